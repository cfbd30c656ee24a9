"""action-train on a million rows against plain scikit-learn fitting the same pipeline.

    python benchmarks/train_large.py [--rows 1000000]

The table: aicd.examples.churn's columns (a customer id, a signup date as text, usage numbers with
missing cells, plan / payment / a wide region) plus five more narrow string columns — ten string
columns, one id-like, one wide — written once to Parquet under ~/.cache/aicd/bench-data. The model:
HistGradientBoostingClassifier through aicd's default pipeline.

- scikit-learn: a new process reads the Parquet file with pandas, cuts the same seeded holdout,
  builds the very pipeline aicd builds for these columns and calls ``Pipeline.fit`` on the training
  rows. Nothing else: no evaluation, no export, no registry.
- scikit-learn + MLflow: the same, then what a team writes by hand for the same gate without aicd:
  the holdout's probabilities and four metrics, a run with them and the model logged and registered
  (``mlflow.sklearn.log_model``) in a real MLflow server. No ONNX export, agreement check, drift profile
  or champion comparison.
- aicd: ``shared/bin/aicd-action train`` as the action runs it, against a real MLflow server:
  reading, hashing, the holdout gate, the ONNX export and its agreement check, the drift profile,
  logging and registering.

Every process runs without PYTHONDONTWRITEBYTECODE (a CI runner does not set it) after one untimed
warm-up on a small table, so no side compiles its imports on the clock. Runs ``--repeat`` rounds of
the three sides (each round starting with another side), and prints each wall time and peak RSS
(``/usr/bin/time``), each fit as it was timed, and the medians of the paired ratios the issue asks for:
aicd's wall time beyond the plain script's (target ≤ 10 %), the same without the fit's own variation
between the processes (aicd's time outside its fit beyond the plain script's, as a share of the fit),
aicd's wall time against the by-hand gate, and the RSS ratio (target ≤ 1.5×).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import needs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "shared"))

CONFIG = """\
data:
  label: churned
  min-positive-share: 0.01
model:
  name: churn-large
  estimator: sklearn.ensemble.HistGradientBoostingClassifier
  params: {random_state: 0}
  thresholds: {roc_auc: 0.6}
"""

PLAIN = textwrap.dedent("""\
    import sys, time
    import pandas as pd
    sys.path.insert(0, {shared!r})
    from aicd.config import parse_config
    from aicd.model.features import plan_features
    from aicd.model.train import build_estimator, labelled_rows, split, with_preprocessing
    cfg = parse_config(open({config!r}).read()).model
    frame = pd.read_parquet({data!r})
    frame, _ = labelled_rows(frame, "churned", cfg)
    train, _ = split(frame, "churned", cfg)
    plan = plan_features(train, [c for c in train.columns if c != "churned"], max_levels=cfg.max_levels)
    model = with_preprocessing(build_estimator(cfg), train[plan.features], plan)
    started = time.monotonic()
    model.fit(train[plan.features], train["churned"])
    print(f"fit {{time.monotonic() - started:.2f}} s")
""")


WARM_ROWS = 20_000


# the same fit, then what a team writes by hand for the same gate without aicd: the holdout's
# probabilities and a few metrics, the run and the model logged and registered in MLflow (no ONNX export,
# no agreement check, no drift profile, no champion comparison)
BY_HAND = PLAIN + textwrap.dedent("""\
    import mlflow, mlflow.sklearn, skops.io
    from sklearn.metrics import accuracy_score, average_precision_score, f1_score, roc_auc_score
    _, test = split(frame, "churned", cfg)
    proba = model.predict_proba(test[plan.features])[:, 1]
    y = test["churned"]
    metrics = {{"roc_auc": roc_auc_score(y, proba), "average_precision": average_precision_score(y, proba),
               "accuracy": accuracy_score(y, proba >= 0.5), "f1": f1_score(y, proba >= 0.5)}}
    mlflow.set_tracking_uri({uri!r})
    with mlflow.start_run():
        mlflow.log_metrics(metrics)
        mlflow.sklearn.log_model(model, name="model", registered_model_name="churn-by-hand",
                                 input_example=test[plan.features].head(3),  # MLflow saves by skops: its
                                 skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(model)))
""")


def table(rows: int) -> Path:
    """The benchmark's Parquet file, generated once per row count."""
    import numpy as np

    from aicd.examples.churn import churn_frame

    path = Path.home() / ".cache/aicd/bench-data" / f"train-large-{rows}.parquet"
    if path.exists():
        return path
    frame = churn_frame(rows, seed=0)
    rng = np.random.default_rng(1)
    for name, levels in (("device", 4), ("country", 12), ("channel", 6), ("os", 5), ("segment", 8)):
        frame[name] = np.array([f"{name}-{i}" for i in range(levels)], dtype=object)[rng.integers(0, levels, rows)]
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return path


def measured(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, output) of ``cmd`` under /usr/bin/time."""
    gnu_time = needs.program("time", "apt-get install -y time (GNU time)", "/usr/bin/time")
    out = subprocess.run([gnu_time, "-f", "TIME %e %M", *cmd], env=env, cwd=cwd, capture_output=True,
                         text=True)
    text = out.stdout + out.stderr
    if out.returncode != 0:
        sys.exit(f"{cmd[0]} failed:\n{text[-3000:]}")
    wall, kb = re.findall(r"TIME ([0-9.]+) (\d+)", text)[-1]
    return float(wall), int(kb) / 1024, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds of the three sides, interleaved; the median of the paired ratios is reported")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    data = table(args.rows)
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = work / "aicd.yml"
        config.write_text(CONFIG)
        plain = work / "plain.py"
        plain.write_text(PLAIN.format(shared=str(ROOT / "shared"), config=str(config), data=str(data)))
        warm = work / "warm.py"  # one untimed run on a small table: each venv's imports compiled once, as
        warm.write_text(PLAIN.format(shared=str(ROOT / "shared"), config=str(config),  # a cached venv has them
                                     data=str(table(WARM_ROWS))))
        plain_run(warm, work)
        aicd_run(table(WARM_ROWS), config, work / "mlflow-warm")
        sides = {"plain": lambda i: plain_run(plain, work),
                 "by-hand": lambda i: by_hand_run(data, config, work / f"mlflow-hand-{i}"),
                 "aicd": lambda i: aicd_run(data, config, work / f"mlflow-{i}")}
        order = list(sides)
        for i in range(args.repeat):  # each round starts with another side: none always finds the cache warm
            turn = order[i % 3:] + order[:i % 3]
            rounds.append({side: sides[side](i) for side in turn})
    aicd_log = rounds[-1]["aicd"][3]
    if os.environ.get("AICD_BENCH_LOG"):  # the train step's own log, to see where its time goes
        print(aicd_log)
    report(args.rows, rounds, "onnxruntime" if "ONNX export agrees" in aicd_log else "scikit-learn")


def report(rows: int, rounds: list[dict], runtime: str) -> None:
    print(f"{rows:,} rows, 10 string columns, HistGradientBoostingClassifier; aicd serves it by {runtime}")
    print(f"{'round':6} {'side':26} {'wall s':>8} {'fit s':>8} {'peak RSS MB':>12}")
    names = {"plain": "scikit-learn Pipeline.fit", "by-hand": "scikit-learn + MLflow", "aicd": "aicd train"}
    for i, sides in enumerate(rounds):
        for j, side in enumerate(names):
            wall, rss, fit = sides[side][:3]
            print(f"{i + 1 if j == 0 else '':<6} {names[side]:26} {wall:8.1f} {fit:8.1f} {rss:12.0f}")
    walls = [r["aicd"][0] / r["plain"][0] - 1 for r in rounds]
    print(f"aicd's wall time beyond plain scikit-learn's: median {statistics.median(walls):+.1%} of {len(rounds)} "
          f"rounds ({', '.join(f'{w:+.1%}' for w in walls)}) (target <= +10 %)")
    # the same fit varies by more than the target between two processes on a shared machine; what aicd
    # adds is its time outside the fit beyond the plain script's (reading, splitting, imports)
    beyond = [((r["aicd"][0] - r["aicd"][2]) - (r["plain"][0] - r["plain"][2])) / r["plain"][2] for r in rounds]
    print(f"aicd's time outside the fit beyond plain scikit-learn's, as a share of the fit: median "
          f"{statistics.median(beyond):+.1%} ({', '.join(f'{b:+.1%}' for b in beyond)})")
    hand = [r["aicd"][0] / r["by-hand"][0] - 1 for r in rounds]
    print(f"aicd's wall time against the same gate by hand (scikit-learn + MLflow, no ONNX): median "
          f"{statistics.median(hand):+.1%} ({', '.join(f'{h:+.1%}' for h in hand)})")
    rss = [r["aicd"][1] / r["plain"][1] for r in rounds]
    print(f"peak RSS ratio aicd / scikit-learn: median {statistics.median(rss):.2f}x (target <= 1.5x)")


def runner_env() -> dict[str, str]:
    """This environment as a CI runner has it: without PYTHONDONTWRITEBYTECODE (a runner does not set
    it; with it every run compiles each module it imports again, ~3 s of a train step's imports)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def plain_run(plain: Path, work: Path) -> tuple[float, float, float]:
    """(wall s, peak RSS MB, fit s) of the plain script."""
    wall, rss, log = measured([sys.executable, str(plain)], runner_env(), work)
    return wall, rss, float(re.search(r"fit ([0-9.]+) s", log).group(1))


def by_hand_run(data: Path, config: Path, store: Path) -> tuple[float, float, float]:
    """(wall s, peak RSS MB, fit s) of the by-hand script against a new MLflow server."""
    from tests.integration.conftest import MlflowServer

    store.mkdir()
    server = MlflowServer(store)
    server.start()
    try:
        script = store / "by_hand.py"
        script.write_text(BY_HAND.format(shared=str(ROOT / "shared"), config=str(config), data=str(data),
                                         uri=server.uri))
        wall, rss, log = measured([sys.executable, str(script)], runner_env(), config.parent)
    finally:
        server.stop()
    return wall, rss, float(re.search(r"fit ([0-9.]+) s", log).group(1))


def aicd_run(data: Path, config: Path, store: Path) -> tuple[float, float, float, str]:
    """(wall s, peak RSS MB, fit s, log) of the train step against a new MLflow server (a server that had
    seen the same data would reuse the registered version instead of training)."""
    from tests.integration.conftest import MlflowServer

    store.mkdir()
    server = MlflowServer(store)
    server.start()
    try:
        env = {**runner_env(), "AICD_DATA": str(data), "AICD_CONFIG": str(config), "AICD_TRACKING_URI": server.uri,
               "GITHUB_SHA": "bench"}
        wall, rss, log = measured([str(ROOT / "shared/bin/aicd-action"), "train"], env, config.parent)
    finally:
        server.stop()
    return wall, rss, float(re.search(r"aicd train: fit ([0-9.]+) s", log).group(1)), log


if __name__ == "__main__":
    main()
