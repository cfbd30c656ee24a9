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
    (["--target", "local", "--command", "promote"], "applies to the kubernetes target"),
    (["--target", "kubernetes", "--model-uri", "models:/m/1", "--kubeconfig", "/nonexistent/kubeconfig"],
     "cannot read kubeconfig"),
    (["--target", "kubernetes", "--model-uri", "models:/m/1", "--strategy", "yolo"], "input `strategy`"),
    (["--target", "docker", "--listen", "8080", "--command", "rollback", "--model-uri", "models:/m/1"],
     "input `listen`"),
])
def test_deploy_mistakes_are_one_clear_line(args, needle):
    assert_one_clear_line(run_aicd("deploy", *args), needle)


def test_a_password_in_the_tracking_uri_never_reaches_the_message(coffee):
    result = run_aicd("train", "--data", str(coffee["data"]), "--config", str(coffee["config"]),
                      "--tracking-uri", "http://bob:s3cr3t-pw@127.0.0.1:9")
    line = assert_one_clear_line(result, "MLflow at http://bob:***@127.0.0.1:9", "unreachable")
    assert "s3cr3t-pw" not in result.output and line
