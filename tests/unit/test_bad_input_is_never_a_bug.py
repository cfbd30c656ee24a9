"""Bad input of every kind ends in one clear line and exit 1 — never exit 70 (a bug) or a traceback.

Each case is a class of input an outside audit turned into a crash; the cases here are members of
those classes, not the audit's own examples only.
"""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from aicd.gha import md_code
from tests.conftest import run_aicd
from tests.unit.test_cli_errors import assert_one_clear_line


def write_config(tmp_path, text: str):
    cfg = tmp_path / "aicd.yml"
    cfg.write_text(text)
    return str(cfg)


@pytest.mark.parametrize("expect, needle", [
    ("value * 999999999999 != 1", "arithmetic on text"),  # a string column: no petabyte repetition
    ("9 ** 9 ** 9 > value", "cannot evaluate"),            # no hour-long big-integer power
    ("value + 'x' == 'ax'", "arithmetic on text"),
])
def test_an_expectation_cannot_exhaust_memory_or_time(tmp_path, coffee, expect, needle):
    cfg = write_config(tmp_path, f"data:\n  columns:\n    preferred_roast:\n      expect: {json.dumps(expect)}\n")
    assert_one_clear_line(run_aicd("validate", "--data", str(coffee["data"]), "--config", cfg, cwd=tmp_path,
                                   timeout=60), needle)


@pytest.mark.parametrize("column", [pa.array([{"a": 1}, {"a": 2}, {"a": 3}]), pa.array([[1], [2, 3], []]),
                                    pa.array([[("k", 1)], [], [("k", 2)]], pa.map_(pa.string(), pa.int64()))])
def test_nested_columns_are_refused_in_one_line(tmp_path, column):
    pq.write_table(pa.table({"x": [1, 2, 3], "nested": column}), tmp_path / "d.parquet")
    cfg = write_config(tmp_path, "data:\n  keys: [nested]\n  columns:\n    nested: {allowed: [a]}\n")
    assert_one_clear_line(run_aicd("validate", "--data", str(tmp_path / "d.parquet"), "--config", cfg,
                                   cwd=tmp_path), "nested values")


def test_unsigned_and_decimal_numbers_are_scanned(tmp_path):
    import decimal

    table = pa.table({"u": pa.array([2**64 - 1, 1, 5], pa.uint64()), "d": pa.array([decimal.Decimal("1.5")] * 3)})
    pq.write_table(table, tmp_path / "d.parquet")
    pq.write_table(table, tmp_path / "r.parquet")
    result = run_aicd("validate", "--data", str(tmp_path / "d.parquet"), "--reference", str(tmp_path / "r.parquet"),
                      cwd=tmp_path)
    assert result.code == 0, result.output


@pytest.mark.parametrize("text, needle", [
    ("model:\n  params: {n_estimators: !!python/name:os.system }\n", "invalid YAML"),
    ("data:\n  columns:\n    age: {min: .nan}\n", "must be a finite number"),
    ("data:\n  drift:\n    columns:\n      age: {threshold: .inf}\n", "must be a finite number"),
    ("data: {label: clicked}\nmodel:\n  estimator: sklearn.cluster.KMeans\n  params: {n_clusters: 2}\n",
     "neither a classifier nor"),
])
def test_config_values_that_would_crash_or_switch_a_rule_off_are_refused(tmp_path, coffee, text, needle):
    cfg = write_config(tmp_path, text)
    stage = "train" if "estimator" in text or "params" in text else "validate"
    extra = ["--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"] if stage == "train" else []
    assert_one_clear_line(run_aicd(stage, "--data", str(coffee["data"]), "--config", cfg, *extra, cwd=tmp_path),
                          needle)


@pytest.mark.parametrize("text, needle", [
    ("model:\n  estimator: sklearn.neighbors.KNeighborsClassifier\n  params: {metric: pyfunc, metric_params: "
     "{func: os.system}}\n", "model.params"),
    ("model:\n  estimator: sklearn.svm.SVC\n  params: {}\n  thresholds: {log_loss: 1}\n", "log_loss not available"),
])
def test_an_estimator_failing_on_its_parameters_or_lacking_a_metric_is_the_users_to_fix(tmp_path, text, needle):
    from aicd.examples.coffee import generate

    generate(300).to_csv(tmp_path / "d.csv", index=False)
    cfg = write_config(tmp_path, "data: {label: clicked}\n" + text)
    result = run_aicd("train", "--data", str(tmp_path / "d.csv"), "--config", cfg, "--tracking-uri",
                      f"sqlite:///{tmp_path / 'm.db'}", cwd=tmp_path)
    assert result.code == 1 and "Traceback" not in result.output and needle in result.output, result.output


@pytest.mark.parametrize("args, needle", [
    (["deploy", "--model-uri", "models:/m/1", "--tracking-uri", "file:///etc"], "not one aicd supports"),
    (["deploy", "--command", "stop", "--state-dir", "nowhere/at/all"], "holds no deployment"),
    (["deploy", "--model-uri", "models:/m/1", "--tracking-uri", "sqlite:///m.db", "--state-dir", "aicd.yml"],
     "is a file, not a folder"),
    (["deploy", "--model-uri", "models:/m/1", "--ready-timeout", "nan"], "not a number of seconds"),
    (["simulate", "--endpoint", "http://127.0.0.1:9", "--data", "{data}", "--label", "nope"], "--label"),
    (["simulate", "--endpoint", "http://127.0.0.1:9", "--data", "{data}", "--requests", "-5"], "--requests"),
    (["simulate", "--endpoint", "http://127.0.0.1:9", "--data", "{data}", "--flip-share", "7"], "--flip-share"),
    (["validate", "--data", "{data}", "--report", "x" * 300 + ".json"], "not a usable path"),
    (["alerts", "--model", "m", "-o", "y" * 300 + ".yml"], "not a usable path"),
    (["validate", "--data", "{data}", "--report", "r.html"], "would be overwritten by the HTML report"),
    (["monitor", "--endpoint", "http://127.0.0.1:9", "--state-dir", "/", "--report", "/tmp/aicd-outside.json"],
     "outside the places a step may write"),
])
def test_inputs_that_crashed_are_one_clear_line(tmp_path, coffee, args, needle):
    (tmp_path / "aicd.yml").write_text("data: {label: clicked}\n")
    args = [a.replace("{data}", str(coffee["data"])) for a in args]
    assert_one_clear_line(run_aicd(*args, cwd=tmp_path, env={"RUNNER_TEMP": ""}), needle)


def test_user_text_in_a_summary_stays_inside_its_code_span():
    assert md_code("plain") == "`plain`"
    assert md_code("d`<img src=x onerror=alert(1)>`.csv") == "``d`<img src=x onerror=alert(1)>`.csv``"
    assert md_code("``x") == "``` ``x ```" and md_code("a\nb") == "`a b`"


def test_the_validate_summary_quotes_a_hostile_path_as_code(tmp_path):
    from aicd.gha import Actions
    from aicd.steps import validate

    data = tmp_path / "d`<img src=x onerror=alert(1)>`.csv"
    data.write_text("a,b\n1,2\n3,4\n")
    summary = tmp_path / "s.md"
    validate.run({"data": str(data), "report": str(tmp_path / "r.json")},
                 Actions({"GITHUB_STEP_SUMMARY": str(summary)}), env={"RUNNER_TEMP": str(tmp_path)})
    assert f"``{data}``" in summary.read_text()


def _train(tmp_path, frame, config: str):
    frame.to_csv(tmp_path / "d.csv", index=False)
    cfg = write_config(tmp_path, config)
    return run_aicd("train", "--data", str(tmp_path / "d.csv"), "--config", cfg, "--tracking-uri",
                    f"sqlite:///{tmp_path / 'm.db'}", cwd=tmp_path, env={"GITHUB_STEP_SUMMARY": str(tmp_path / "s.md")})


@pytest.mark.parametrize("body, needle", [
    ("from sklearn.ensemble import GradientBoostingClassifier\n"
     "def fit(x, y, params):\n    return GradientBoostingClassifier()\n", "returned an unfitted"),
    ("from sklearn.linear_model import LinearRegression\n"
     "def fit(x, y, params):\n    return LinearRegression().fit(x.select_dtypes('number').fillna(0), y)\n",
     "returned a regression model"),
    ("class Odd:\n    def predict(self, x):\n        raise RuntimeError('nope')\n"
     "def fit(x, y, params):\n    return Odd()\n", "failed to predict the holdout"),
])
def test_a_model_from_the_entrypoint_that_cannot_serve_is_the_users_to_fix(tmp_path, body, needle):
    from aicd.examples.coffee import generate

    (tmp_path / "mytrain.py").write_text(body)
    result = _train(tmp_path, generate(300), "data: {label: clicked}\nmodel:\n  entrypoint: mytrain:fit\n"
                    "  task: classification\n")
    assert_one_clear_line(result, needle)
    assert "refused" in (tmp_path / "s.md").read_text()  # the job summary says so too


def test_frozen_and_builtin_modules_are_not_the_repository(tmp_path):
    from aicd.errors import ConfigError
    from aicd.model.train import load_entrypoint

    for spec in ("os:system", "posix:system", "sys:exit", "builtins:eval", "codecs:open"):
        with pytest.raises(ConfigError, match="not a function of a module in the repository"):
            load_entrypoint(spec, str(tmp_path))


def test_slices_of_a_column_with_missing_values_and_other_label_shapes(tmp_path):
    from aicd.examples.coffee import generate

    frame = generate(600)
    frame.loc[frame.index[:40], "preferred_roast"] = None
    frame.loc[frame.index[40:80], "clicked"] = None
    config = ("data: {label: clicked, max-missing-ratio: 0.2}\nmodel:\n  params: {n_estimators: 5, "
              "random_state: 0, class_weight: {0: 1, 1: 2}}\n  max-missing-label-ratio: 0.1\n"
              "  thresholds: {accuracy: 0.5}\n  slices: [{column: preferred_roast, thresholds: {accuracy: 0.1}}]\n")
    result = _train(tmp_path, frame, config)
    assert result.code == 0, result.output
    assert "ONNX export agrees on 100" in result.output  # labels read as floats because of blanks are ints again
    assert "(missing)" in (tmp_path / "s.md").read_text()


def test_a_multiclass_label_has_no_positive_share_and_an_absent_positive_is_named(tmp_path):
    import pandas as pd

    data = tmp_path / "d.csv"
    pd.DataFrame({"x": range(90), "species": ["a", "b", "c"] * 30}).to_csv(data, index=False)
    (tmp_path / "aicd.yml").write_text("data: {label: species}\n")
    ok = run_aicd("validate", "--data", str(data), "--config", str(tmp_path / "aicd.yml"), cwd=tmp_path)
    assert ok.code == 0, ok.output
    pd.DataFrame({"x": range(90), "y": ["no", "yes", "no"] * 30}).to_csv(data, index=False)
    (tmp_path / "aicd.yml").write_text("data: {label: y}\n")
    assert_one_clear_line(run_aicd("validate", "--data", str(data), "--config", str(tmp_path / "aicd.yml"),
                                   cwd=tmp_path), "the positive value 1 never occurs in label `y` (classes: no, yes)")


def test_bad_parameter_values_name_the_line_and_both_estimator_and_entrypoint_is_refused(tmp_path, coffee):
    from aicd.examples.coffee import generate

    result = _train(tmp_path, generate(200), "data: {label: clicked}\nmodel:\n  params:\n    n_estimators: many\n")
    assert_one_clear_line(result, f"{tmp_path / 'aicd.yml'}:3", "n_estimators")
    cfg = write_config(tmp_path, "model:\n  entrypoint: m:fit\n  task: classification\n"
                       "  estimator: sklearn.svm.SVC\n")
    assert_one_clear_line(run_aicd("validate", "--data", str(coffee["data"]), "--config", cfg), f"{cfg}:4",
                          "together with `model.entrypoint`")


def test_a_one_sided_range_names_only_its_own_bound_and_alerts_need_a_model_name(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("a\n1\n2\n9\n")
    cfg = write_config(tmp_path, "data:\n  columns:\n    a: {min: 5}\n")
    line = assert_one_clear_line(run_aicd("validate", "--data", str(data), "--config", cfg, cwd=tmp_path),
                                 "`a` has 2 values below 5 (observed 1 .. 9)")
    assert "None" not in line
    assert_one_clear_line(run_aicd("alerts", "--model", "bad\nname"), "--model")
