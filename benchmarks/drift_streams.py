"""Drift decisions on streams with known change points: aicd's default rule beside Evidently's defaults.

    python benchmarks/drift_streams.py [--quick] [--sizes 200,1000,10000,100000] [--skip-evidently]

Run it with the dev venv's python. Its own generator (seeded) makes, per batch size and per change
kind, one stream of 12 columns (8 numeric, 4 categorical): a reference batch, stable batches, then
batches where one column changes at a known point. The kinds:

    mean-small   a numeric column's mean moves by 0.25 standard deviations
    mean-large   ... by 1 standard deviation
    variance     its standard deviation grows 1.5 times
    gradual      its mean creeps by 0.05 standard deviations per batch
    tails        it becomes Student-t with 3 degrees of freedom, scaled to the same variance
    doubling     a categorical level's share doubles from 5 % to 10 %
    new-level    a level the reference never saw takes 5 % of the rows

Printed per size, for each tool: false column alarms per column-batch (every column of a stable
batch, and every unchanged column after the change) and per kind the detection delay (batches from
the change until the changed column is first flagged; "missed" when it never is). Where Evidently
raises more than 1 % false alarms, its detection is shown again at equal false-alarm rates: its
per-column thresholds tightened (bisected) until its false alarms on these streams are at most 1 %, and
at most aicd's own rate — the comparison at an equal rate.

aicd is called as the data gate calls it (``column_drift`` per column, ``judge_family`` over the
batch, the default config); Evidently 0.7.23 runs ``DataDriftPreset`` in its own venv, built by
``benchmarks/data_gate.py``'s mechanism. Evidently takes ~18 s a call at 100,000 rows, so the large
sizes have few batches; ``--quick`` cuts every stream down. Evidently's answers are cached under
``~/.cache/aicd/bench-data`` (the streams are seeded), so a second run takes aicd's time alone;
"seconds per batch" of Evidently is then that of the run that filled the cache.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "shared"), str(ROOT / "benchmarks")]

from aicd.data.drift import Side, column_drift  # noqa: E402
from aicd.data.verdict import judge_family  # noqa: E402

NUMERIC = [f"x{i}" for i in range(8)]
CATEGORICAL = [f"c{i}" for i in range(4)]
LEVELS = {"c0": (["a", "b", "c", "rare"], [0.55, 0.25, 0.15, 0.05]),
          "c1": (["a", "b", "c"], [0.5, 0.3, 0.2]),
          "c2": (["p", "q"], [0.7, 0.3]),
          "c3": ([f"l{k}" for k in range(8)], [0.3, 0.2, 0.15, 0.1, 0.1, 0.05, 0.05, 0.05])}
KINDS = {"mean-small": "x0", "mean-large": "x1", "variance": "x2", "gradual": "x3", "tails": "x4",
         "doubling": "c0", "new-level": "c1"}
# (stable batches, changed batches) per size: enough column-batches for a false-alarm rate at the small
# sizes, few at the large ones (Evidently's time)
BATCHES = {200: (8, 8), 1000: (5, 5), 10_000: (2, 2), 100_000: (1, 2)}
QUICK = {200: (4, 4), 1000: (2, 3), 10_000: (1, 2), 100_000: (1, 1)}
TARGET_FALSE_ALARMS = 0.01

EVIDENTLY = """
import json, sys, warnings
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset

warnings.filterwarnings("ignore")
out = []
for reference, current in json.load(open(sys.argv[1])):
    snapshot = Report([DataDriftPreset()]).run(current_data=pd.read_csv(current), reference_data=pd.read_csv(reference))
    columns = {}
    for m in snapshot.dict()["metrics"]:
        c = m["config"]
        if c.get("type") == "evidently:metric_v2:ValueDrift":
            columns[c["column"]] = {"method": c["method"], "threshold": c["threshold"], "value": m["value"]}
    out.append(columns)
print("RESULT " + json.dumps({"batches": out}))
"""


@dataclass
class Stream:
    kind: str
    column: str
    reference: dict[str, np.ndarray]
    batches: list[dict[str, np.ndarray]]
    change: int  # index of the first changed batch


def draw(rng: np.random.Generator, rows: int, kind: str | None = None, step: int = 0) -> dict[str, np.ndarray]:
    """One batch of the 12 columns; ``kind`` changes its column (``step`` batches after the change)."""
    out = {name: rng.normal(0, 1, rows) for name in NUMERIC}
    for name, (levels, shares) in LEVELS.items():
        out[name] = rng.choice(np.array(levels, dtype=object), rows, p=shares)
    if kind == "mean-small":
        out["x0"] = out["x0"] + 0.25
    elif kind == "mean-large":
        out["x1"] = out["x1"] + 1.0
    elif kind == "variance":
        out["x2"] = out["x2"] * 1.5
    elif kind == "gradual":
        out["x3"] = out["x3"] + 0.05 * (step + 1)
    elif kind == "tails":
        out["x4"] = rng.standard_t(3, rows) / np.sqrt(3.0)
    elif kind == "doubling":
        levels, shares = LEVELS["c0"]
        out["c0"] = rng.choice(np.array(levels, dtype=object), rows, p=[0.52, 0.23, 0.15, 0.10])
    elif kind == "new-level":
        levels, shares = LEVELS["c1"]
        out["c1"] = rng.choice(np.array([*levels, "new"], dtype=object), rows,
                               p=[s * 0.95 for s in shares] + [0.05])
    return out


def streams(rows: int, stable: int, changed: int, seed: int) -> list[Stream]:
    out = []
    for i, (kind, column) in enumerate(KINDS.items()):
        rng = np.random.default_rng([seed, rows, i])
        batches = [draw(rng, rows) for _ in range(stable)] + [draw(rng, rows, kind, k) for k in range(changed)]
        out.append(Stream(kind, column, draw(rng, rows), batches, stable))
    return out


def side(values: np.ndarray) -> Side:
    if values.dtype == object:
        levels, counts = np.unique(values.astype(str), return_counts=True)
        return Side("categorical", int(values.size), counts=dict(zip(levels.tolist(), counts.tolist(), strict=True)))
    return Side("numeric", int(values.size), sample=values)


def aicd_flags(stream: Stream) -> list[dict[str, bool]]:
    """Per batch, each column's verdict under the default config (method auto, level 0.05)."""
    reference = {name: side(values) for name, values in stream.reference.items()}
    out = []
    for batch in stream.batches:
        results = [column_drift(name, reference[name], side(values)) for name, values in batch.items()]
        out.append({r.column: r.drifted for r in judge_family(results, 0.05)})
    return out


def evidently_results(all_streams: list[Stream], folder: Path, key: str) -> tuple[list[list[dict]], float]:
    """Evidently's per-column results of every batch of every stream, in one process; kept under
    ``key`` in the benchmark cache (the streams are seeded, so the same key is the same answers), with
    the seconds per batch its process took (CSV reading included)."""
    import pandas as pd
    from data_gate import CACHE, VENVS, run_snippet

    cached = CACHE / "bench-data" / f"drift-streams-evidently-{key}-{'-'.join(VENVS['evidently'])}.json"
    if cached.exists():
        kept = json.loads(cached.read_text())
        return kept["batches"], kept["seconds"]

    pairs, shape = [], []
    for s, stream in enumerate(all_streams):
        reference = folder / f"s{s}-ref.csv"
        pd.DataFrame(stream.reference).to_csv(reference, index=False)
        for b, batch in enumerate(stream.batches):
            current = folder / f"s{s}-b{b}.csv"
            pd.DataFrame(batch).to_csv(current, index=False)
            pairs.append([str(reference), str(current)])
        shape.append(len(stream.batches))
    manifest = folder / "pairs.json"
    manifest.write_text(json.dumps(pairs))
    started = time.perf_counter()
    run = run_snippet("Evidently", "DataDriftPreset per batch", "evidently", EVIDENTLY, manifest)
    if run.error:
        raise SystemExit(f"error: Evidently failed: {run.error}")
    flat, out = run.result["batches"], []
    for count in shape:
        out.append(flat[:count])
        flat = flat[count:]
    seconds = (time.perf_counter() - started) / sum(shape)
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps({"batches": out, "seconds": seconds}))
    return out, seconds


def evidently_flags(results: list[list[dict]], scale: float = 1.0) -> list[list[dict[str, bool]]]:
    """Evidently's verdicts; ``scale`` < 1 tightens every threshold (a p-value's down, a distance's up)."""
    def drifted(r: dict) -> bool:
        if "p_value" in r["method"]:
            return r["value"] < r["threshold"] * scale
        return r["value"] > r["threshold"] / scale
    return [[{name: drifted(r) for name, r in batch.items()} for batch in stream] for stream in results]


def false_alarm_rate(all_streams: list[Stream], flags: list[list[dict[str, bool]]]) -> float:
    alarms = total = 0
    for stream, batches in zip(all_streams, flags, strict=True):
        for b, verdicts in enumerate(batches):
            for name, flagged in verdicts.items():
                if b >= stream.change and name == stream.column:
                    continue
                alarms, total = alarms + flagged, total + 1
    return alarms / total if total else 0.0


def delays(all_streams: list[Stream], flags: list[list[dict[str, bool]]]) -> dict[str, int | None]:
    return {stream.kind: next((b - stream.change for b in range(stream.change, len(batches))
                               if batches[b].get(stream.column)), None)
            for stream, batches in zip(all_streams, flags, strict=True)}


def equal_rate_scale(all_streams: list[Stream], results: list[list[dict]], target: float) -> float:
    """The largest threshold scale (bisected on a log scale) at which Evidently's false alarms are <= target."""
    rate = lambda scale: false_alarm_rate(all_streams, evidently_flags(results, scale))  # noqa: E731
    low, high = -30.0, 0.0  # log2 of the scale: 2**-30 is below any p-value the streams give
    if rate(2.0**high) <= target:
        return 1.0
    for _ in range(40):
        middle = (low + high) / 2
        low, high = (middle, high) if rate(2.0**middle) <= target else (low, middle)
    return 2.0**low


def shown(delay: int | None) -> str:
    return "missed" if delay is None else str(delay)


def report(rows: int, all_streams: list[Stream], tools: dict[str, list], seconds: dict[str, float]) -> dict:
    print(f"\n## {rows:,} rows per batch ({len(all_streams[0].batches)} batches per kind, change after "
          f"{all_streams[0].change})")
    figures = {name: {"false_alarms": false_alarm_rate(all_streams, flags), "delays": delays(all_streams, flags),
                      "seconds": seconds.get(name)} for name, flags in tools.items()}
    names = list(figures)
    print("| | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    print("| false column alarms | " + " | ".join(f"{figures[n]['false_alarms']:.2%}" for n in names) + " |")
    for kind in KINDS:
        print(f"| delay: {kind} | " + " | ".join(shown(figures[n]["delays"][kind]) for n in names) + " |")
    print("| seconds per batch | " + " | ".join(f"{figures[n]['seconds']:.3f}" if figures[n]["seconds"] else "-"
                                            for n in names) + " |")
    return figures


def verdict(all_figures: dict[int, dict]) -> None:
    print("\n## Goals")
    for rows, figures in all_figures.items():
        aicd = figures["aicd"]
        ok = aicd["false_alarms"] <= TARGET_FALSE_ALARMS
        print(f"- {rows:,} rows: aicd false column alarms {aicd['false_alarms']:.2%} (goal <= 1 %): "
              f"{'met' if ok else 'NOT met'}")
        for name in ("Evidently", "Evidently at 1 %", "Evidently at aicd's rate"):
            if name in figures:
                later = [k for k in KINDS if _later(aicd["delays"][k], figures[name]["delays"][k])]
                print(f"  detection never later than {name}: {'met' if not later else 'NOT met: ' + ', '.join(later)}")


def _later(ours: int | None, theirs: int | None) -> bool:
    if theirs is None:
        return False
    return ours is None or ours > theirs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few batches per stream (a minute or two)")
    parser.add_argument("--sizes", default="200,1000,10000,100000", help="batch sizes, comma-separated")
    parser.add_argument("--skip-evidently", action="store_true", help="aicd alone")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    plan = QUICK if args.quick else BATCHES
    all_figures = {}
    for rows in (int(s) for s in args.sizes.split(",")):
        stable, changed = plan.get(rows, (3, 3))
        all_streams = streams(rows, stable, changed, args.seed)
        batches = sum(len(s.batches) for s in all_streams)
        started = time.perf_counter()
        tools = {"aicd": [aicd_flags(s) for s in all_streams]}
        seconds = {"aicd": (time.perf_counter() - started) / batches}
        if not args.skip_evidently:
            with tempfile.TemporaryDirectory() as tmp:
                results, seconds["Evidently"] = evidently_results(all_streams, Path(tmp),
                                                                  f"{rows}-{stable}-{changed}-{args.seed}")
            tools["Evidently"] = evidently_flags(results)
            if false_alarm_rate(all_streams, tools["Evidently"]) > TARGET_FALSE_ALARMS:
                ours = false_alarm_rate(all_streams, tools["aicd"])
                tools["Evidently at 1 %"] = evidently_flags(results, equal_rate_scale(all_streams, results, 0.01))
                tools["Evidently at aicd's rate"] = evidently_flags(results, equal_rate_scale(all_streams, results,
                                                                                             ours))
        all_figures[rows] = report(rows, all_streams, tools, seconds)
    verdict(all_figures)
    if args.json:
        Path(args.json).write_text(json.dumps(all_figures, indent=1))


if __name__ == "__main__":
    main()
