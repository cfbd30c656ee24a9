"""User mistakes end in one clear line that names the file or key, never a traceback."""

import pytest

from tests.conftest import run_aicd


def assert_one_clear_line(result, *needles):
    assert result.code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_missing_data_file(tmp_path):
    result = run_aicd("validate", "--data", str(tmp_path / "nope.csv"))
    assert_one_clear_line(result, "nope.csv", "data file not found", "`data`")


def test_malformed_csv(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3,4,5,6\n")
    assert_one_clear_line(run_aicd("validate", "--data", str(bad)), "bad.csv", "ragged rows", "Expected 2 columns")


def test_unknown_column_in_config_names_the_config_line(tmp_path, coffee):
    cfg = tmp_path / "aicd.yml"
    cfg.write_text("data:\n  label: clicked\n  columns:\n    loyalty_tier: {dtype: str}\n")
    result = run_aicd("validate", "--data", str(coffee["data"]), "--config", str(cfg))
    assert_one_clear_line(result, f"{cfg}:4: column `loyalty_tier` is not in the data")


def test_a_misspelt_column_in_config_gets_a_did_you_mean(tmp_path, coffee):
    cfg = tmp_path / "aicd.yml"
    cfg.write_text("data:\n  label: clicked\n  columns:\n    avg_spnd: {dtype: float}\n")
    result = run_aicd("validate", "--data", str(coffee["data"]), "--config", str(cfg))
    assert_one_clear_line(result, f"{cfg}:4: column `avg_spnd` is not in the data (did you mean `avg_spend`?")


def test_bad_threshold_type(tmp_path, coffee):
    cfg = tmp_path / "aicd.yml"
    cfg.write_text("model:\n  thresholds:\n    accuracy: ninety\n")
    result = run_aicd("validate", "--data", str(coffee["data"]), "--config", str(cfg))
    assert_one_clear_line(result, f"{cfg}:3", "`model.thresholds.accuracy`", "must be a number")


def test_required_input_missing_names_the_input_and_its_variable():
    assert_one_clear_line(run_aicd("validate"), "`data` is required", "AICD_DATA")


def test_monitor_without_a_source_says_which_inputs_give_one():
    assert_one_clear_line(run_aicd("monitor"), "`endpoint`", "`prometheus-url`")


def test_inputs_arrive_through_env_like_on_the_runner(tmp_path):
    result = run_aicd("validate", env={"AICD_DATA": str(tmp_path / "from-env.csv")})
    assert_one_clear_line(result, "from-env.csv")


@pytest.mark.parametrize("stage,args", [("deploy", ["--target", "mars"]), ("deploy", ["--command", "explode"]),
                                        ("monitor", ["--endpoint", "http://x", "--on-failure", "panic"])])
def test_invalid_choices(stage, args):
    assert_one_clear_line(run_aicd(stage, *args), "input `")


def test_unreachable_model_server_is_named(tmp_path):
    result = run_aicd("monitor", "--endpoint", "http://127.0.0.1:9", "--report", str(tmp_path / "r.json"))
    assert_one_clear_line(result, "model server at http://127.0.0.1:9", "cannot read /metrics")


@pytest.mark.parametrize("args,needles", [
    (["--endpoint", "http://x", "--compare", "abba"], ["input `compare`"]),
    (["--prometheus-url", "http://127.0.0.1:9", "--selector", "namespace=acme"], ["input `selector`"]),
    (["--prometheus-url", "ftp://prom"], ["input `prometheus-url`"]),
    (["--prometheus-url", "http://127.0.0.1:9", "--endpoint", "http://x"], ["`endpoint` and `prometheus-url`"]),
    (["--prometheus-url", "http://127.0.0.1:9", "--prometheus-token", "s3cret-token"],
     ["Prometheus at http://127.0.0.1:9", "cannot be reached", "nothing was promoted or rolled back"]),
])
def test_monitor_mistakes_and_an_unreachable_prometheus_are_one_clear_line(tmp_path, args, needles):
    result = run_aicd("monitor", *args, "--report", str(tmp_path / "r.json"))
    assert_one_clear_line(result, *needles)
    assert "s3cret-token" not in result.output


def test_partitions_that_disagree_on_a_column_type_are_one_clear_line(tmp_path):
    (tmp_path / "part-1.csv").write_text("x,y\n1,a\n2,b\n")
    (tmp_path / "part-2.csv").write_text("x,y\nhello,c\nworld,d\n")
    result = run_aicd("validate", "--data", str(tmp_path / "part-*.csv"), "--report", str(tmp_path / "r.json"))
    assert_one_clear_line(result, "column `x` is int in one part of the data and str in another")


def test_training_on_partitions_that_disagree_is_one_clear_line(tmp_path):
    (tmp_path / "part-1.csv").write_text("x,label\n1,0\n2,1\n")
    (tmp_path / "part-2.csv").write_text("x,label\nhello,0\nworld,1\n")
    (tmp_path / "aicd.yml").write_text("data: {label: label}\n")
    result = run_aicd("train", "--data", str(tmp_path / "part-*.csv"), "--config", str(tmp_path / "aicd.yml"),
                      "--tracking-uri",
                      f"sqlite:///{tmp_path / 'mlflow.db'}", "--data-version", "v1")
    assert_one_clear_line(result, "cannot read the data", "part-*.csv")


@pytest.mark.parametrize("args,needle", [
    (["--target", "kubernetes", "--command", "stop", "--model-uri", "models:/m/1"], "stop is not offered"),
    (["--target", "local", "--command", "promote"], "promote is not offered by the local target"),
    (["--target", "kubernetes", "--model-uri", "models:/m/1", "--kubeconfig", "/nonexistent/kubeconfig"],
     "kubeconfig not found"),
    (["--target", "kubernetes", "--model-uri", "models:/m/1", "--strategy", "yolo"], "input `strategy`"),
    (["--target", "docker", "--listen", "8080", "--command", "rollback", "--model-uri", "models:/m/1"],
     "input `listen`"),
    (["--target", "kubernetes", "--model-uri", "models:/m/1", "--shadow-model-uri", "models:/m/1"],
     "input `shadow-model-uri` applies to deploying on the local and docker targets, not deploy on kubernetes"),
    (["--command", "rollback", "--shadow-model-uri", "models:/m/1"], "not rollback on local"),
    (["--model-uri", "models:/m/1", "--revision", "2"], "input `revision` applies to command: rollback, not deploy"),
])
def test_deploy_mistakes_are_one_clear_line(args, needle):
    assert_one_clear_line(run_aicd("deploy", *args), needle)


def test_a_password_in_the_tracking_uri_never_reaches_the_message(coffee):
    result = run_aicd("train", "--data", str(coffee["data"]), "--config", str(coffee["config"]),
                      "--tracking-uri", "http://bob:s3cr3t-pw@127.0.0.1:9")
    line = assert_one_clear_line(result, "MLflow at http://bob:***@127.0.0.1:9", "unreachable")
    assert "s3cr3t-pw" not in result.output and line


# -- refusals that are right and say so (issue: missing and single-class labels, ranges, exit codes) ---------

def _train(tmp_path, frame, config: str, *extra):
    data, cfg = tmp_path / "d.csv", tmp_path / "aicd.yml"
    frame.to_csv(data, index=False)
    cfg.write_text(config)
    return run_aicd("train", "--data", str(data), "--config", str(cfg), "--tracking-uri",
                    f"sqlite:///{tmp_path / 'mlflow.db'}", *extra, cwd=tmp_path)


def _registered(tmp_path) -> int:
    import sqlite3

    db = tmp_path / "mlflow.db"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as con:
        return con.execute("select count(*) from model_versions").fetchone()[0]


MODEL = "model:\n  params: {n_estimators: 5, random_state: 0}\n"


def test_missing_labels_are_refused_with_the_count_unless_a_ratio_allows_dropping(tmp_path):
    from aicd.examples.coffee import generate

    frame = generate(600)
    frame.loc[frame.index[:150], "clicked"] = None
    line = assert_one_clear_line(_train(tmp_path, frame, "data: {label: clicked}\n" + MODEL),
                                 "label `clicked` is missing in 150 of 600 rows (25.0%)", "max-missing-label-ratio")
    assert line and _registered(tmp_path) == 0
    allowed = _train(tmp_path, frame, "data: {label: clicked}\n" + MODEL + "  max-missing-label-ratio: 0.3\n"
                     "  thresholds: {accuracy: 0.5}\n")
    assert allowed.code == 0, allowed.output
    assert "450 labelled rows" in allowed.output and "fitted on 360 rows" in allowed.output
    assert "150 rows without a label dropped" in allowed.output


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_label_with_one_class_or_value_is_refused_by_both_gates(tmp_path, task):
    from aicd.examples.coffee import generate

    frame = generate(300).assign(clicked=1)
    config = f"data: {{label: clicked, min-positive-share: 0}}\nmodel:\n  task: {task}\n  thresholds: {{}}\n"
    assert_one_clear_line(_train(tmp_path, frame, config), "label `clicked` has a single")
    frame.to_csv(tmp_path / "d.csv", index=False)
    gate = run_aicd("validate", "--data", str(tmp_path / "d.csv"), "--config", str(tmp_path / "aicd.yml"),
                    cwd=tmp_path)
    assert gate.code == 1 and "has a single" in gate.output and "Traceback" not in gate.output
    assert _registered(tmp_path) == 0


def test_a_nan_metric_never_passes_a_threshold():
    from aicd.model.gate import check_thresholds

    assert [g.passed for g in check_thresholds({"roc_auc": float("nan"), "log_loss": float("nan")},
                                               {"roc_auc": 0.0, "log_loss": 10.0})] == [False, False]


@pytest.mark.parametrize("threshold, needle", [("accuracy: -1", "-1 is outside accuracy's range (0 to 1)"),
                                               ("accuracy: 1.5", "1.5 is outside accuracy's range"),
                                               ("log_loss: -0.1", "outside log_loss's range")])
def test_thresholds_outside_a_metrics_range_are_config_errors_with_a_line(tmp_path, coffee, threshold, needle):
    cfg = tmp_path / "aicd.yml"
    cfg.write_text(f"model:\n  thresholds:\n    {threshold}\n")
    assert_one_clear_line(run_aicd("validate", "--data", str(coffee["data"]), "--config", str(cfg), cwd=tmp_path),
                          f"{cfg}:3", needle)


def test_label_checks_follow_the_task(tmp_path, coffee):
    cfg = tmp_path / "aicd.yml"
    cfg.write_text("data:\n  label: avg_spend\nmodel:\n  estimator: sklearn.ensemble.RandomForestRegressor\n")
    ok = run_aicd("validate", "--data", str(coffee["data"]), "--config", str(cfg), cwd=tmp_path)
    assert ok.code == 0 and "positive share" not in ok.output, ok.output  # regression: no positive share
    cfg.write_text("data:\n  label: preferred_roast\nmodel:\n  task: regression\n")
    line = assert_one_clear_line(run_aicd("validate", "--data", str(coffee["data"]), "--config", str(cfg),
                                          cwd=tmp_path), "label `preferred_roast` is str")
    assert f"{cfg}:4" in line  # the line of `task: regression`
    cfg.write_text("model:\n  entrypoint: train:fit\n")
    assert_one_clear_line(run_aicd("validate", "--data", str(coffee["data"]), "--config", str(cfg), cwd=tmp_path),
                          f"{cfg}:2", "`model.task` is required with `model.entrypoint`")


@pytest.mark.parametrize("body, needle", [
    ("def fit(x, y, params):\n    return None\n", "returned NoneType, not a fitted estimator"),
    ("def fit(x, y, params):\n    raise SystemExit(3)\n", "raised SystemExit: 3"),
    ("def fit(x, y, params):\n    return 1 / 0\n", "raised ZeroDivisionError: division by zero"),
    ("import sys\nsys.exit(4)\ndef fit(x, y, params):\n    pass\n", "importing user_train raised SystemExit: 4"),
])
def test_the_users_own_code_failing_is_one_line_naming_the_entrypoint(tmp_path, body, needle):
    from aicd.examples.coffee import generate

    (tmp_path / "user_train.py").write_text(body)
    config = "data: {label: clicked}\nmodel:\n  entrypoint: user_train:fit\n  task: classification\n"
    line = assert_one_clear_line(_train(tmp_path, generate(200), config, ), "model.entrypoint", needle)
    assert "data" not in line.split("(", 1)[-1]  # the hint does not blame the data


def test_a_binary_config_and_a_directory_are_one_clear_line(tmp_path, coffee):
    binary = tmp_path / "aicd.yml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    assert_one_clear_line(run_aicd("validate", "--data", str(coffee["data"]), "--config", str(binary)),
                          "is not UTF-8 text")
    assert_one_clear_line(run_aicd("validate", "--data", str(tmp_path)), "is a directory, not a data file")
    assert_one_clear_line(run_aicd("validate", "--data", str(coffee["data"]), "--config", str(tmp_path)),
                          "is a directory, not a config file")


def test_a_semicolon_file_says_so_and_data_delimiter_reads_it(tmp_path):
    data = tmp_path / "semi.csv"
    data.write_text("a;b;label\n1;2;0\n3;4;1\n5;6;0\n")
    assert_one_clear_line(run_aicd("validate", "--data", str(data), cwd=tmp_path), "looks ';'-delimited",
                          'data.delimiter: ";"')
    (tmp_path / "aicd.yml").write_text('data:\n  delimiter: ";"\n  columns:\n    b: {min: 0}\n')
    ok = run_aicd("validate", "--data", str(data), "--config", str(tmp_path / "aicd.yml"), cwd=tmp_path)
    assert ok.code == 0, ok.output


def test_a_column_with_every_value_missing_says_so(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,\n2,\n3,\n")
    (tmp_path / "aicd.yml").write_text("data:\n  max-missing-ratio: 1\n  columns:\n    b: {dtype: float}\n")
    assert_one_clear_line(run_aicd("validate", "--data", str(data), "--config", str(tmp_path / "aicd.yml"),
                                   cwd=tmp_path), "`b` is entirely missing")


def test_a_json_line_longer_than_a_block_is_read(tmp_path):
    import json

    data = tmp_path / "long.jsonl"
    data.write_text("".join(json.dumps({"a": i, "b": "x" * (3_000_000 if i == 5 else 1)}) + "\n" for i in range(9)))
    result = run_aicd("validate", "--data", str(data), cwd=tmp_path)
    assert result.code == 0, result.output
