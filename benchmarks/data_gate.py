"""The data gate against Evidently, Great Expectations and a bare pyarrow read, on the same data.

    python benchmarks/data_gate.py [--rows N] [--runs N] [--skip-evidently] [--skip-ge] [--skip-whylogs]

Run it with the dev venv's python (it needs numpy, scipy, pyarrow and pyyaml). What it measures, each as
a whole process under `/usr/bin/time -v` (wall time and peak RSS), each the median of `--runs` runs
(default 3: the machine may be shared; the load average is printed before and after):

1. Data: seeded reference and current frames of N rows (default 1,000,000) x 50 columns — 40 float
   columns f00..f39 (normal, lognormal, uniform, exponential, beta, gamma; scales 0.01 to 10,000) and
   10 string columns c00..c09 with 5-20 levels, ~1 % missing cells; "current" shifts the mean of 10
   float columns by 0.25 to 1 standard deviation and the level frequencies of 2 string columns:
   TRUE_DRIFTED below. Written once, in chunks, as CSV (and Parquet up to 2M rows) with an `aicd.yml`
   (dtypes, ranges for f00..f29, allowed levels, max-missing-ratio 0.05, drift method auto) under
   `${AICD_CACHE_DIR:-~/.cache/aicd}/bench-data/<rows>/`.
2. aicd: `shared/bin/aicd-action validate` on the current CSV with the reference CSV (full data gate),
   the same on the Parquet files, and without a reference (checks only), plus a cold start on a
   1,000-row file.
3. Competitors, each in its own venv under `${AICD_CACHE_DIR:-~/.cache/aicd}/bench-venvs/` (built
   once with uv): Evidently 0.7.23 `DataDriftPreset` on both CSVs, Great Expectations 1.24.1 running
   the checks the `aicd.yml` expresses on the current CSV, whylogs 1.6.4 profiling both CSVs and
   scoring their drift (`calculate_drift_scores`, its profile-based drift), and pyarrow reading one
   CSV, one Parquet file and both Parquet files (skipped above 2M rows).

Children run without PYTHONDONTWRITEBYTECODE (as on a CI runner), so imports are not recompiled on
every run. Prints the table, the ratios against their targets and the drifted columns found by aicd and
Evidently beside the truth. `--rows 10000000 --skip-evidently --skip-ge` checks aicd's peak RSS at
10M rows. Needs GNU time (`apt-get install -y time`); uv is the project's (see benchmarks/needs.py); the
venvs need the package index once.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import needs
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("AICD_CACHE_DIR") or Path.home() / ".cache/aicd")
GNU_TIME = Path("/usr/bin/time")

SEED = 20261128
CHUNK_ROWS = 250_000
MISSING = 0.01
PARQUET_MAX_ROWS = 2_000_000
COLD_ROWS = 1_000

FLOATS = [f"f{i:02d}" for i in range(40)]
RANGED = FLOATS[:30]
STRINGS = [f"c{j:02d}" for j in range(10)]
SHIFTS = {"f03": 0.25, "f08": 0.3, "f12": 0.5, "f17": 1.0, "f21": 0.25,  # in standard deviations
          "f25": 0.5, "f29": 0.3, "f33": 1.0, "f34": 0.5, "f36": 0.25}
SHIFTED_LEVELS = ("c02", "c07")  # half of each level's share moves to the next level
TRUE_DRIFTED = sorted([*SHIFTS, *SHIFTED_LEVELS])
SCHEMA = pa.schema([(name, pa.float64()) for name in FLOATS] + [(name, pa.string()) for name in STRINGS])

TARGETS = {"evidently_speedup": 40.0, "rss_share": 1 / 3, "ge_speedup": 10.0, "rss_10m_mb": 2000.0, "cold_s": 1.0,
           "parquet_read_ratio": 1.5}

VENVS = {
    "evidently": ["evidently==0.7.23", "pandas<3"],
    "great-expectations": ["great_expectations==1.24.1", "pandas<3"],
    "whylogs": ["whylogs[viz]==1.6.4", "pandas<3"],
    "pyarrow": [re.search(r"^pyarrow==\S+", (ROOT / "requirements/aicd.lock").read_text(), re.M).group(0)],
}

EVIDENTLY = """
import json, sys
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset

reference, current = pd.read_csv(sys.argv[1]), pd.read_csv(sys.argv[2])
snapshot = Report([DataDriftPreset()], include_tests=True).run(current_data=current, reference_data=reference)
column_tests = [t for t in snapshot.dict()["tests"] if t["id"] == "drift"]
params = [t["metric_config"]["params"] for t in column_tests]
drifted = [p["column"] for t, p in zip(column_tests, params) if t["status"] == "FAIL"]
methods = {}
for p in params:
    methods[p["method"]] = methods.get(p["method"], 0) + 1
print("RESULT " + json.dumps({"drifted": sorted(drifted), "methods": methods}))
"""

WHYLOGS = """
import json, sys
import pandas as pd
import whylogs as why
from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores

reference, current = pd.read_csv(sys.argv[1]), pd.read_csv(sys.argv[2])
scores = calculate_drift_scores(target_view=why.log(current).view(), reference_view=why.log(reference).view(),
                                with_thresholds=True)
drifted = [name for name, score in scores.items() if score and score.get("drift_category") == "DRIFT"]
methods = {}
for score in scores.values():
    if score:
        methods[score["algorithm"]] = methods.get(score["algorithm"], 0) + 1
print("RESULT " + json.dumps({"drifted": sorted(drifted), "methods": methods}))
"""

GREAT_EXPECTATIONS = """
import json, sys
import great_expectations as gx
import pandas as pd

frame, spec = pd.read_csv(sys.argv[1]), json.load(open(sys.argv[2]))
context = gx.get_context(mode="ephemeral")
asset = context.data_sources.add_pandas("bench").add_dataframe_asset("current")
batch = asset.add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame})
suite = gx.ExpectationSuite(name="aicd-equivalent")
for name, column in spec["columns"].items():
    suite.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(
        column=name, mostly=1 - spec["max-missing-ratio"]))
    if "min" in column:
        suite.add_expectation(gx.expectations.ExpectColumnValuesToBeBetween(
            column=name, min_value=column["min"], max_value=column["max"]))
    if "allowed" in column:
        suite.add_expectation(gx.expectations.ExpectColumnValuesToBeInSet(column=name, value_set=column["allowed"]))
statistics = batch.validate(suite).statistics
print("RESULT " + json.dumps({"expectations": statistics["evaluated_expectations"],
                              "passed": statistics["successful_expectations"]}))
"""

PYARROW = """
import json, sys
import pyarrow.csv, pyarrow.parquet

tables = [pyarrow.csv.read_csv(path) if path.endswith(".csv") else pyarrow.parquet.read_table(path)
          for path in sys.argv[1:]]
print("RESULT " + json.dumps({"rows": sum(t.num_rows for t in tables)}))
"""


@dataclass
class Run:
    tool: str
    workload: str
    wall_s: float
    rss_mb: float
    result: dict = field(default_factory=dict)
    error: str | None = None


# --- data -------------------------------------------------------------------------------------------------


def decimals(i: int) -> int:
    """Decimals kept in column f<i>: about 6 significant digits at its scale."""
    return 7 - i % 7


def float_distribution(i: int):
    """A frozen scipy distribution for column f<i>: six shapes crossed with seven scales."""
    scale = 10.0 ** (i % 7 - 2)
    return (stats.norm(loc=5 * scale, scale=scale), stats.lognorm(s=0.6, scale=scale),
            stats.uniform(loc=-scale, scale=3 * scale), stats.expon(scale=scale),
            stats.beta(2, 5, scale=scale), stats.gamma(a=2, scale=scale))[i % 6]


def levels(j: int) -> list[str]:
    return [f"L{k:02d}" for k in range(5 + (7 * j) % 16)]


def level_shares(j: int, side: str) -> np.ndarray:
    shares = np.random.default_rng([SEED, 99, j]).dirichlet(np.full(len(levels(j)), 2.0))
    shifted = side == "current" and STRINGS[j] in SHIFTED_LEVELS
    return 0.5 * shares + 0.5 * np.roll(shares, 1) if shifted else shares


def shift(name: str, side: str) -> float:
    return SHIFTS.get(name, 0.0) * float_distribution(FLOATS.index(name)).std() if side == "current" else 0.0


def chunk(side: str, index: int, rows: int) -> pa.RecordBatch:
    """Rows of one side, seeded by (side, chunk index)."""
    rng = np.random.default_rng([SEED, ("reference", "current").index(side), index])
    arrays = []
    for i, name in enumerate(FLOATS):
        dist = float_distribution(i)
        values = np.round(dist.rvs(size=rows, random_state=rng) + shift(name, side), decimals(i))
        arrays.append(pa.array(values, mask=rng.random(rows) < MISSING))
    for j in range(len(STRINGS)):
        codes = rng.choice(len(levels(j)), size=rows, p=level_shares(j, side))
        codes = pa.array(codes.astype(np.int32), mask=rng.random(rows) < MISSING)
        arrays.append(pa.DictionaryArray.from_arrays(codes, pa.array(levels(j))).cast(pa.string()))
    return pa.RecordBatch.from_arrays(arrays, schema=SCHEMA)


def gate_config() -> dict:
    """The aicd.yml: dtypes, allowed levels and ranges that hold for both frames (the support, or
    where it is infinite the 1e-12 tail quantiles), rounded outward to the column's decimals."""
    columns = {}
    for i, name in enumerate(FLOATS):
        columns[name] = {"dtype": "float"}
        if name in RANGED:
            dist, unit = float_distribution(i), 10.0 ** decimals(i)
            low, high = dist.support()
            low = low if np.isfinite(low) else dist.ppf(1e-12)
            high = (high if np.isfinite(high) else dist.isf(1e-12)) + shift(name, "current")
            columns[name] |= {"min": round(float(np.floor(low * unit)) / unit, decimals(i)),
                              "max": round(float(np.ceil(high * unit)) / unit, decimals(i))}
    for j, name in enumerate(STRINGS):
        columns[name] = {"dtype": "category", "allowed": levels(j)}
    return {"data": {"max-missing-ratio": 0.05, "columns": columns, "drift": {"method": "auto"}}}


def dataset(rows: int) -> Path:
    """The folder holding reference/current CSV (and Parquet) and aicd.yml for `rows`, made when missing."""
    folder = CACHE / "bench-data" / str(rows)
    if folder.exists():
        return folder
    print(f"generating {rows:,} rows x 50 columns into {folder} ...", flush=True)
    partial = folder.with_name(f"{rows}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for side in ("reference", "current"):
        writers = [pacsv.CSVWriter(partial / f"{side}.csv", SCHEMA)]
        if rows <= PARQUET_MAX_ROWS:
            writers.append(pq.ParquetWriter(partial / f"{side}.parquet", SCHEMA))
        for index, start in enumerate(range(0, rows, CHUNK_ROWS)):
            batch = chunk(side, index, min(CHUNK_ROWS, rows - start))
            for writer in writers:
                writer.write_batch(batch)
        for writer in writers:
            writer.close()
    (partial / "aicd.yml").write_text(yaml.safe_dump(gate_config(), sort_keys=False), encoding="utf-8")
    partial.rename(folder)
    return folder


# --- running and measuring --------------------------------------------------------------------------------


def child_env(**extra: str) -> dict[str, str]:
    """The environment of every measured process and venv build, without a stray AICD_REFERENCE and
    without PYTHONDONTWRITEBYTECODE: a CI runner does not set it, and with it every run would compile
    every imported module again."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "AICD_REFERENCE")}
    return env | extra


def measure(tool: str, workload: str, cmd: list[str], env: dict[str, str]) -> tuple[Run, str]:
    """Run `cmd` under GNU time: its Run (error set from the output on a non-zero exit) and its stdout."""
    with tempfile.TemporaryDirectory() as tmp:
        timing = Path(tmp) / "time.txt"
        proc = subprocess.run([str(GNU_TIME), "-v", "-o", str(timing), *cmd], capture_output=True, text=True,
                              env=env)
        text = timing.read_text()
    clock = re.search(r"Elapsed \(wall clock\) time .*: (\S+)", text).group(1)
    wall = sum(float(part) * 60**power for power, part in enumerate(reversed(clock.split(":"))))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) * 1024 / 1e6
    run = Run(tool, workload, wall, rss)
    if proc.returncode != 0:
        lines = [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
        run.error = next((line for line in lines if line.startswith("error:")), " | ".join(lines[-3:]))
    return run, proc.stdout


def venv_python(name: str) -> Path:
    """The python of the competitor's venv, built with uv when missing or its requirements changed."""
    return needs.venv(name, VENVS[name], child_env())


def median_of(runs: int, once) -> Run:
    """``once()`` run ``runs`` times: the median wall time and peak RSS, the last run's result."""
    done = [once() for _ in range(runs)]
    return announce(replace(done[-1], wall_s=statistics.median(r.wall_s for r in done),
                            rss_mb=statistics.median(r.rss_mb for r in done),
                            workload=f"{done[-1].workload}, median of {runs}" if runs > 1 else done[-1].workload))


def run_snippet(tool: str, workload: str, venv: str, code: str, *args: Path, runs: int = 1) -> Run:
    return median_of(runs, lambda: snippet_once(tool, workload, venv, code, *args))


def snippet_once(tool: str, workload: str, venv: str, code: str, *args: Path) -> Run:
    python = venv_python(venv)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "snippet.py"
        script.write_text(code, encoding="utf-8")
        run, stdout = measure(tool, workload, [str(python), str(script), *map(str, args)], child_env())
    line = next((line for line in stdout.splitlines() if line.startswith("RESULT ")), None)
    if run.error is None and line is None:
        run.error = "no RESULT line in its output"
    elif run.error is None:
        run.result = json.loads(line.removeprefix("RESULT "))
    return run


def run_aicd(workload: str, data: Path, config: Path, reference: Path | None = None, runs: int = 1) -> Run:
    return median_of(runs, lambda: aicd_once(workload, data, config, reference))


def aicd_once(workload: str, data: Path, config: Path, reference: Path | None = None) -> Run:
    """`aicd-action validate` as the action runs it; a gate that says no (exit 1) still counts."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "validate.json"
        # the report goes to a temp folder: name it RUNNER_TEMP, the place a step may write outside the workspace
        env = child_env(AICD_DATA=str(data), AICD_CONFIG=str(config), AICD_REPORT=str(report), RUNNER_TEMP=tmp)
        if reference is not None:
            env["AICD_REFERENCE"] = str(reference)
        run, _ = measure("aicd", workload, [str(ROOT / "shared/bin/aicd-action"), "validate"], env)
        if report.exists():
            body = json.loads(report.read_text(encoding="utf-8"))
            run.result = {"passed": body["passed"], "checks": len(body["checks"]),
                          "failed": [f"{c['name']} {c['column']}" for c in body["checks"] if not c["passed"]],
                          "drifted": sorted(d["column"] for d in body["drift"] if d["drifted"]),
                          "methods": dict(Counter(d["method"] for d in body["drift"]))}
            run.error = None
    return run


def announce(run: Run) -> Run:
    print(f"  {run.tool:<18} {run.workload:<40} {run.wall_s:7.1f} s {run.rss_mb:8,.0f} MB  {note(run)}", flush=True)
    return run


def note(run: Run) -> str:
    r = run.result
    if run.error:
        return f"FAILED: {run.error}"
    if "passed" in r and "checks" in r:
        failed = f"gate FAILED ({len(r['failed'])}: {', '.join(r['failed'][:3])})" if r["failed"] else "gate passed"
        drift = f", {len(r['drifted'])} drifted {r['methods']}" if r["methods"] else ""
        return f"{failed}, {r['checks']} checks{drift}"
    if "drifted" in r:
        return f"{len(r['drifted'])} drifted {r['methods']}"
    if "expectations" in r:
        return f"{r['passed']} of {r['expectations']} expectations passed"
    if "batches" in r:  # benchmarks/drift_streams.py
        return f"{len(r['batches'])} batches judged"
    return f"{r['rows']:,} rows read"


# --- the benchmark ----------------------------------------------------------------------------------------


def cold_start(runs: int) -> Run:
    folder = dataset(COLD_ROWS)
    return run_aicd(f"validate {COLD_ROWS:,} rows (cold start)", folder / "current.csv", folder / "aicd.yml",
                    folder / "reference.csv", runs=runs)


def competitors(folder: Path, args: argparse.Namespace, spec: Path) -> dict[str, Run]:
    ref, cur, n = folder / "reference.csv", folder / "current.csv", args.runs
    runs = {}
    if (folder / "current.parquet").exists():
        runs["pyarrow-csv"] = run_snippet("pyarrow", "csv.read_csv, one CSV", "pyarrow", PYARROW, cur, runs=n)
        runs["pyarrow-parquet"] = run_snippet("pyarrow", "parquet.read_table, one Parquet", "pyarrow", PYARROW,
                                              folder / "current.parquet", runs=n)
        runs["pyarrow-parquet-both"] = run_snippet("pyarrow", "parquet.read_table, both Parquet files", "pyarrow",
                                                   PYARROW, folder / "current.parquet", folder / "reference.parquet",
                                                   runs=n)
    if not args.skip_ge:
        runs["ge"] = run_snippet("Great Expectations", "aicd.yml's checks on current", "great-expectations",
                                 GREAT_EXPECTATIONS, cur, spec, runs=n)
    if not args.skip_evidently:
        runs["evidently"] = run_snippet("Evidently", "DataDriftPreset, reference vs current", "evidently",
                                        EVIDENTLY, ref, cur, runs=n)
    if not args.skip_whylogs:
        runs["whylogs"] = run_snippet("whylogs", "profiles + drift scores, ref vs current", "whylogs", WHYLOGS,
                                      ref, cur, runs=n)
    return runs


def print_table(runs: dict[str, Run]) -> None:
    print(f"\n{'tool':<18} {'workload':<40} {'wall s':>8} {'peak RSS MB':>12}")
    for run in runs.values():
        wall, rss = (f"{run.wall_s:8.2f}", f"{run.rss_mb:12,.0f}") if not run.error else ("failed", "")
        print(f"{run.tool:<18} {run.workload:<40} {wall:>8} {rss:>12}")


def value(runs: dict[str, Run], key: str, attr: str) -> float | None:
    run = runs.get(key)
    return None if run is None or run.error else getattr(run, attr)


def quotient(top: float | None, bottom: float | None) -> float | None:
    return None if top is None or bottom is None else top / bottom


def target(label: str, figure: float | None, goal: str, met) -> None:
    if figure is None:
        print(f"  {label}: not measured")
    else:
        print(f"  {label}: {figure:.3g} (target {goal}: {'met' if met(figure) else 'MISSED'})")


def print_ratios(runs: dict[str, Run], rows: int) -> None:
    print("\nratios and targets")
    target("Evidently wall / aicd full validate wall",
           quotient(value(runs, "evidently", "wall_s"), value(runs, "aicd-full", "wall_s")),
           f">= {TARGETS['evidently_speedup']:g}x", lambda x: x >= TARGETS["evidently_speedup"])
    target("aicd full validate peak RSS / Evidently peak RSS",
           quotient(value(runs, "aicd-full", "rss_mb"), value(runs, "evidently", "rss_mb")),
           "<= 1/3", lambda x: x <= TARGETS["rss_share"])
    target("whylogs wall / aicd full validate wall (no target: the profile-based peer)",
           quotient(value(runs, "whylogs", "wall_s"), value(runs, "aicd-full", "wall_s")), "none", lambda x: True)
    target("GE wall / aicd checks-only wall",
           quotient(value(runs, "ge", "wall_s"), value(runs, "aicd-checks", "wall_s")),
           f">= {TARGETS['ge_speedup']:g}x", lambda x: x >= TARGETS["ge_speedup"])
    target("aicd Parquet validate wall / pyarrow reading both Parquet files",
           quotient(value(runs, "aicd-parquet", "wall_s"), value(runs, "pyarrow-parquet-both", "wall_s")),
           f"<= {TARGETS['parquet_read_ratio']:g}x", lambda x: x <= TARGETS["parquet_read_ratio"])
    target("aicd Parquet validate peak RSS / aicd CSV validate peak RSS",
           quotient(value(runs, "aicd-parquet", "rss_mb"), value(runs, "aicd-full", "rss_mb")),
           "<= 1x", lambda x: x <= 1.0)
    if rows >= 10_000_000:
        target(f"aicd full validate peak RSS at {rows:,} rows, MB", value(runs, "aicd-full", "rss_mb"),
               f"< {TARGETS['rss_10m_mb']:g} MB", lambda x: x < TARGETS["rss_10m_mb"])
    target(f"aicd cold start on {COLD_ROWS:,} rows, s", value(runs, "aicd-cold", "wall_s"),
           f"< {TARGETS['cold_s']:g} s", lambda x: x < TARGETS["cold_s"])


def print_drift(runs: dict[str, Run]) -> None:
    found = {name: runs[key].result["drifted"] for name, key in (("aicd", "aicd-full"), ("Evidently", "evidently"),
                                                                  ("whylogs", "whylogs"))
             if key in runs and "drifted" in runs[key].result}
    print(f"\ndrifted columns (truth: {len(TRUE_DRIFTED)} columns)")
    tools = ["truth", *found]
    print("  " + "".join(f"{name:>10}" for name in ["column", *tools]))
    lists = {"truth": TRUE_DRIFTED, **found}
    for column in sorted(set().union(*lists.values())):
        marks = ["x" if column in lists[name] else "." for name in tools]
        print("  " + "".join(f"{value:>10}" for value in [column, *marks]))
    print(f"  TRUE_DRIFTED = {TRUE_DRIFTED}")
    for name, columns in found.items():
        missed, extra = sorted(set(TRUE_DRIFTED) - set(columns)), sorted(set(columns) - set(TRUE_DRIFTED))
        verdict = "matches the truth" if not missed and not extra else f"missed {missed}, extra {extra}"
        print(f"  {name} = {columns}: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per frame (default 1,000,000)")
    parser.add_argument("--skip-evidently", action="store_true", help="do not run Evidently")
    parser.add_argument("--skip-ge", action="store_true", help="do not run Great Expectations")
    parser.add_argument("--skip-whylogs", action="store_true", help="do not run whylogs")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement, the median reported (default 3)")
    args = parser.parse_args()
    needs.program("time", "apt-get install -y time (GNU time)", str(GNU_TIME))
    folder = dataset(args.rows)
    config = folder / "aicd.yml"
    print(f"aicd data gate benchmark: {args.rows:,} rows x 50 columns per frame, data in {folder}, {load()}")
    runs = {"aicd-cold": cold_start(args.runs)}
    runs["aicd-full"] = run_aicd("validate, reference vs current", folder / "current.csv", config,
                                 folder / "reference.csv", runs=args.runs)
    if (folder / "current.parquet").exists():
        runs["aicd-parquet"] = run_aicd("validate, Parquet reference vs current", folder / "current.parquet",
                                        config, folder / "reference.parquet", runs=args.runs)
    runs["aicd-checks"] = run_aicd("validate, checks only (no reference)", folder / "current.csv", config,
                                   runs=args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "checks.json"
        spec.write_text(json.dumps(yaml.safe_load(config.read_text(encoding="utf-8"))["data"]), encoding="utf-8")
        runs |= competitors(folder, args, spec)
    print_table(runs)
    print_ratios(runs, args.rows)
    print_drift(runs)
    print(f"\nat the end: {load()}")


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f} on {} cores".format(*os.getloadavg(), os.cpu_count())


if __name__ == "__main__":
    main()
