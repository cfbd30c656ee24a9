"""action-train on a million rows against plain scikit-learn fitting the same pipeline.

    python benchmarks/train_large.py [--rows 1000000]

The table: aicd.examples.churn's columns (a customer id, a signup date as text, usage numbers with
missing cells, plan / payment / a wide region) plus five more narrow string columns — ten string
columns, one id-like, one wide — written once to Parquet under ~/.cache/aicd/bench-data. The model:
HistGradientBoostingClassifier through aicd's default pipeline.

- scikit-learn: a new process reads the Parquet file with pandas, cuts the same seeded holdout,
  builds the very pipeline aicd builds for these columns and calls ``Pipeline.fit`` on the training
  rows. Nothing else: no evaluation, no export, no registry.
- aicd: ``shared/bin/aicd-action train`` as the action runs it, against a real MLflow server:
  reading, hashing, the holdout gate, the ONNX export and its agreement check, the drift profile,
  logging and registering.

Runs ``--repeat`` pairs (plain then aicd, the other way round in odd pairs), and prints each wall
time and peak RSS (``/usr/bin/time``), each fit as it was timed, and the medians of the paired ratios
the issue asks for: aicd's wall time beyond the plain script's (target ≤ 10 %), the same without the
fit's own variation between the two processes (aicd's time outside its fit beyond the plain script's,
as a share of the fit), and the RSS ratio (target ≤ 1.5×).
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
                        help="pairs of runs, interleaved; the median of the paired ratios is reported")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    data = table(args.rows)
    pairs = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = work / "aicd.yml"
        config.write_text(CONFIG)
        plain = work / "plain.py"
        plain.write_text(PLAIN.format(shared=str(ROOT / "shared"), config=str(config), data=str(data)))
        for i in range(args.repeat):  # odd pairs run aicd first: neither side always finds the cache warm
            if i % 2:
                ai = aicd_run(data, config, work / f"mlflow-{i}")
                pairs.append((plain_run(plain, work), ai))
            else:
                pairs.append((plain_run(plain, work), aicd_run(data, config, work / f"mlflow-{i}")))
    aicd_log = pairs[-1][1][3]
    if os.environ.get("AICD_BENCH_LOG"):  # the train step's own log, to see where its time goes
        print(aicd_log)
    runtime = "onnxruntime" if "ONNX export agrees" in aicd_log else "scikit-learn"
    print(f"{args.rows:,} rows, 10 string columns, HistGradientBoostingClassifier; aicd serves it by {runtime}")
    print(f"{'pair':6} {'side':14} {'wall s':>8} {'fit s':>8} {'peak RSS MB':>12}")
    for i, (sk, ai) in enumerate(pairs):
        print(f"{i + 1:<6} {'scikit-learn':14} {sk[0]:8.1f} {sk[2]:8.1f} {sk[1]:12.0f}")
        print(f"{'':6} {'aicd train':14} {ai[0]:8.1f} {ai[2]:8.1f} {ai[1]:12.0f}")
    walls = [ai[0] / sk[0] - 1 for sk, ai in pairs]
    print(f"aicd's wall time beyond plain scikit-learn's: median {statistics.median(walls):+.1%} of {len(pairs)} "
          f"pairs ({', '.join(f'{w:+.1%}' for w in walls)}) (target <= +10 %)")
    # the same fit varies by more than the target between two processes on a shared machine; what aicd
    # adds is its time outside the fit beyond the plain script's (reading, splitting, imports)
    beyond = [((ai[0] - ai[2]) - (sk[0] - sk[2])) / sk[2] for sk, ai in pairs]
    print(f"aicd's time outside the fit beyond plain scikit-learn's, as a share of the fit: median "
          f"{statistics.median(beyond):+.1%} ({', '.join(f'{b:+.1%}' for b in beyond)})")
    rss = [ai[1] / sk[1] for sk, ai in pairs]
    print(f"peak RSS ratio aicd / scikit-learn: median {statistics.median(rss):.2f}x (target <= 1.5x)")


def plain_run(plain: Path, work: Path) -> tuple[float, float, float]:
    """(wall s, peak RSS MB, fit s) of the plain script."""
    wall, rss, log = measured([sys.executable, str(plain)], dict(os.environ), work)
    return wall, rss, float(re.search(r"fit ([0-9.]+) s", log).group(1))


def aicd_run(data: Path, config: Path, store: Path) -> tuple[float, float, float, str]:
    """(wall s, peak RSS MB, fit s, log) of the train step against a new MLflow server (a server that had
    seen the same data would reuse the registered version instead of training)."""
    from tests.integration.conftest import MlflowServer

    store.mkdir()
    server = MlflowServer(store)
    server.start()
    try:
        env = {**os.environ, "AICD_DATA": str(data), "AICD_CONFIG": str(config), "AICD_TRACKING_URI": server.uri,
               "GITHUB_SHA": "bench"}
        wall, rss, log = measured([str(ROOT / "shared/bin/aicd-action"), "train"], env, config.parent)
    finally:
        server.stop()
    return wall, rss, float(re.search(r"aicd train: fit ([0-9.]+) s", log).group(1)), log


if __name__ == "__main__":
    main()
