"""The data gate and training reading a SQL query from a real PostgreSQL server (started by the fixture).

Each failure — a bad query, a wrong password, an unreachable server, a connection dropped mid-read —
is one line naming the source, and nothing is registered; the password never reaches the log.
"""

from __future__ import annotations

import json

import pytest

from aicd.examples.churn import churn_frame
from tests.conftest import run_aicd
from tests.integration.pg_infra import PASSWORD, PostgresServer
from tests.unit.test_cli_errors import assert_one_clear_line
from tests.unit.test_gha import parse_output_file

COLUMNS = ("customer_id text, signup_date date, usage_hours double precision, support_tickets numeric(6,1), "
           "tenure_days integer, plan text, payment text, region text, churned integer")
QUERY = "SELECT * FROM customers ORDER BY customer_id"
CONFIG = "data:\n  label: churned\n  min-positive-share: 0.05\n  max-missing-ratio: 0.1\n" \
         "model:\n  estimator: sklearn.ensemble.HistGradientBoostingClassifier\n  thresholds: {accuracy: 0.6}\n"


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    server = PostgresServer()
    server.start()
    csv = tmp_path_factory.mktemp("pg") / "customers.csv"
    churn_frame(4000, seed=5).to_csv(csv, index=False)
    server.load_csv("customers", COLUMNS, csv)
    yield server
    server.stop()


@pytest.fixture
def project(tmp_path):
    (tmp_path / "aicd.yml").write_text(CONFIG)
    (tmp_path / "queries").mkdir()
    (tmp_path / "queries" / "customers.sql").write_text(f"-- every customer, in a fixed order\n{QUERY};\n")
    return tmp_path


def validate(project, data, url, *extra, runner=False):
    (project / "out.txt").write_text("")
    env = {"AICD_DATABASE_URL": url, "GITHUB_OUTPUT": str(project / "out.txt"), "RUNNER_TEMP": str(project),
           **({"GITHUB_ACTIONS": "true"} if runner else {})}
    return run_aicd("validate", "--data", data, "--config", str(project / "aicd.yml"),
                    "--report", str(project / "report.json"), *extra, env=env, cwd=project)


def outputs(project) -> dict[str, str]:
    return parse_output_file((project / "out.txt").read_text())


def test_a_query_file_is_validated_with_a_stable_version_and_the_password_masked(postgres, project, tmp_path):
    result = validate(project, "queries/customers.sql", postgres.url, runner=True)
    assert result.code == 0, result.output
    assert f"::add-mask::{PASSWORD}" in result.stdout
    assert PASSWORD not in result.output.replace(f"::add-mask::{PASSWORD}", "")
    assert "4,000 rows from postgresql 127.0.0.1" in result.output
    first = outputs(project)
    assert first["passed"] == "true"
    body = json.loads((project / "report.json").read_text())
    assert body["rows"] == 4000 and body["data"] == "queries/customers.sql"
    inline = validate(project, f"sql: {QUERY}", postgres.url)  # the same rows inline: the same version
    assert inline.code == 0, inline.output
    assert outputs(project)["data-version"] == first["data-version"]
    fewer = validate(project, "sql: SELECT * FROM customers WHERE churned = 1 ORDER BY customer_id", postgres.url)
    assert fewer.code == 1 and "a single class" in fewer.output  # all positives: the label check says no
    assert outputs(project)["data-version"] != first["data-version"]
    assert not list(project.glob("aicd-data-*")), "the spool is removed when the step ends"


def test_the_query_is_compared_with_a_reference_query_for_drift(postgres, project):
    result = validate(project, f"sql: {QUERY}", postgres.url, "--reference",
                      "sql: SELECT customer_id, signup_date, usage_hours * 3 AS usage_hours, support_tickets, "
                      "tenure_days, plan, payment, region, churned FROM customers")
    assert result.code == 0, result.output
    assert "usage_hours" in json.loads(outputs(project)["drifted-columns"])


@pytest.mark.parametrize(("data", "url", "needles"), [
    ("sql: SELECT * FROM no_such_table", None, ("sql: SELECT * FROM no_such_table", "the query failed",
                                                 'relation "no_such_table" does not exist')),
    ("sql: SELECT 1/(g - 90000) AS x FROM generate_series(1, 200000) g", None,
     ("the query failed", "division by zero")),
    ("queries/missing.sql", None, ("queries/missing.sql", "query file not found")),
    ("sql: SELECT * FROM customers WHERE false", None, ("returned no rows",)),
    ("queries/customers.sql", "wrong-password", ("cannot connect", "password authentication failed",
                                                 "postgresql 127.0.0.1")),
    ("queries/customers.sql", "unreachable", ("cannot connect", "Connection refused", "postgresql 127.0.0.1:1/")),
    ("queries/customers.sql", "", ("$AICD_DATABASE_URL is not set",)),
])
def test_each_failure_is_one_line_naming_the_source(postgres, project, data, url, needles):
    url = {None: postgres.url, "wrong-password": postgres.url.replace(PASSWORD, "not-the-password"),
           "unreachable": f"postgresql://aicd:{PASSWORD}@127.0.0.1:1/behaviour", "": ""}[url]
    result = validate(project, data, url)
    line = assert_one_clear_line(result, *needles)
    assert PASSWORD not in line and "Traceback" not in result.output


def test_a_connection_dropped_mid_read_is_one_retryable_line(postgres, project):
    """The server ends the session after streaming rows (as a failover or an admin would)."""
    query = ("sql: SELECT g AS id, CASE WHEN g = 2500000 THEN pg_terminate_backend(pg_backend_pid()) END AS t "
             "FROM generate_series(1, 4000000) g")
    line = assert_one_clear_line(validate(project, query, postgres.url), "the connection was lost after",
                                 "terminating connection")
    assert "rows reading sql: SELECT g AS id" in line
    assert not list(project.glob("aicd-data-*/*.arrow")), "no half-read spool is left behind"


def test_training_from_a_query_registers_nothing_when_the_read_fails(postgres, project, mlflow_server):
    env = {"AICD_DATABASE_URL": postgres.url, "GITHUB_OUTPUT": str(project / "out.txt"), "RUNNER_TEMP": str(project),
           "MLFLOW_TRACKING_URI": mlflow_server.uri, "GITHUB_SHA": "sql-source"}
    args = ("train", "--config", str(project / "aicd.yml"), "--model-name", "churn-from-sql")
    broken = run_aicd(*args, "--data", "sql: SELECT * FROM customers_typo", env=env, cwd=project, timeout=300)
    assert_one_clear_line(broken, "customers_typo")
    assert mlflow_server.version_count("churn-from-sql") == 0
    trained = run_aicd(*args, "--data", "queries/customers.sql", env=env, cwd=project, timeout=300)
    assert trained.code == 0, trained.output
    assert outputs(project)["passed"] == "true"
    assert mlflow_server.version_count("churn-from-sql") == 1
    lineage = run_aicd("lineage", "models:/churn-from-sql/1", "--tracking-uri", mlflow_server.uri, "--json")
    (data,) = json.loads(lineage.stdout)["data"]
    assert data["kind"] == "sql" and data["query"] == "queries/customers.sql" and data["source_type"] == "sql"
    assert data["uri"] == f"postgresql://aicd:***@127.0.0.1:{postgres.port}/behaviour"
    assert PASSWORD not in lineage.stdout and len(data["data_version"]) == 16
