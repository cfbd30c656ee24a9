"""False rollbacks under peeking: aicd's always-valid gate against the usual interval checks.

    PYTHONPATH=shared python benchmarks/canary_peeking.py [--analyses 500] [--looks 48] [--per-look 250]

Each simulated analysis is a canary and its stable version behind one Service, looked at after every
interval (the gate is re-run while data keeps arriving, as a scheduled monitor or an analysis loop
does). Per interval each version gets ``--per-look`` requests: 0.5 % server errors, log-normal
latency (median 20 ms) counted in the model server's histogram buckets, a delayed label for every
prediction (accuracy 92 %), a conversion outcome (5 %), and one feature in ten equally likely bins.

Side by side, on the same counts:

* **aicd** — ``aicd.monitor.decide`` with the default ``monitor:`` configuration (always-valid
  intervals, family-wise confidence 0.99, tolerances relative to stable, consecutive-failures 1).
* **aicd, paired** — the same gate, with the canary's server also scoring every request with the
  stable model (deploy's ``shadow-model-uri``): online accuracy is judged on the same labelled
  requests. The two versions are simulated as retrained models do behave — right and wrong on mostly
  the same requests; they disagree on ``--disagree`` of them (default 6 %, half each way when equal).
* **aicd, tolerances 0** — the same, but a canary fails as soon as it is significantly worse than
  stable at all: what the always-valid intervals guarantee on their own, without the tolerances' help.
* **fixed-horizon test, re-run at every look** — the textbook two-proportion z-test at 95 % (one-sided
  "canary worse") for accuracy, error rate and conversion, as a dashboard or a hand-written analysis
  step does; a rollback the first time any test says "worse".
* **the same z-test at 1 % family-wise** (Bonferroni over its three tests): the same error budget as
  aicd, so the difference that remains is the peeking alone.
* **threshold count** (the Flagger / Argo Rollouts analysis style) — per interval, the canary's
  accuracy on that interval's data must be at least stable's minus 2 points and its error rate at
  most 1 %; rollback after 2 failed intervals (``failureLimit``), no statistics.

A/A (the canary is the same model) counts false rollbacks: the issue's bar is at most 1 % for aicd.
A second A/A case is the hard one for variance estimates: a rare outcome (conversion 1 %) in a canary
that gets 5 % of the traffic, looked at 200 times.
A worse canary (accuracy 85 % instead of 92 %) shows the price of that safety: how often and how soon
each method rolls it back. The cost of promotion is the other price: for each method, how many labels
per side it takes to promote the A/A canary — aicd promotes when every check passes with confidence;
the fixed-horizon tests promote at their planned sample size (a power analysis for a 2-point drop at
80 % power) if they have not rolled back by then; the threshold count promotes after 10 intervals
(Flagger's ``iterations``) without reaching its failure limit. Prints the tables and the ratios.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))

from aicd.config import MonitorConfig
from aicd.monitor.decide import decide, evaluate
from aicd.monitor.metrics import PAIRED, Snapshot
from aicd.serve.metrics import LATENCY_BUCKETS

BOUNDS = np.array([*LATENCY_BUCKETS, math.inf])
REFERENCE = {"f": {str(i): 0.1 for i in range(10)}}


@dataclass
class Arm:
    """Cumulative counts of one version."""

    requests: int = 0
    errors: int = 0
    correct: int = 0
    converted: int = 0
    buckets: np.ndarray = None
    bins: np.ndarray = None

    outcomes: int = 0
    labels: int = 0
    paired: np.ndarray = None  # labels also scored by the stable model: both, served, shadow, neither right

    def add(self, rng, n: int, accuracy: float, conversion: float | None = 0.05,
            shadow: tuple[float, float] | None = None, labelled: float = 1.0) -> tuple[int, int, int]:
        """``conversion`` None: the servers report no business outcomes (no conversion check);
        ``shadow`` (the stable model's accuracy, the share of requests the two disagree on): the
        served model's correct labels are drawn jointly with the shadow's; ``labelled``: the share of
        requests whose label comes back. Returns this look's errors, correct labels and labels."""
        labels = n if labelled >= 1 else rng.binomial(n, labelled)
        errors, correct = rng.binomial(n, 0.005), rng.binomial(labels, accuracy)
        if shadow is not None:
            pairs = rng.multinomial(labels, joint(accuracy, *shadow))
            correct = int(pairs[0] + pairs[1])
            self.paired = pairs if self.paired is None else self.paired + pairs
        converted = rng.binomial(n, conversion) if conversion is not None else 0
        self.outcomes += n if conversion is not None else 0
        latency = rng.lognormal(math.log(0.02), 0.5, n)
        counts = np.bincount(np.searchsorted(BOUNDS, latency), minlength=len(BOUNDS))
        self.buckets = counts if self.buckets is None else self.buckets + counts
        bins = rng.multinomial(n, [0.1] * 10)
        self.bins = bins if self.bins is None else self.bins + bins
        self.requests += n
        self.errors += errors
        self.correct += correct
        self.labels += labels
        self.converted += converted
        return errors, correct, labels

    def snapshot(self, variant: str, paired: bool = False) -> Snapshot:
        cumulative = np.cumsum(self.buckets)
        shadow = ({"paired": dict(zip(PAIRED, map(int, self.paired), strict=True)), "shadow_versions": {"1"}}
                  if paired else {})
        return Snapshot(**shadow, requests=self.requests, errors=self.errors, correct=self.correct,
                        incorrect=self.labels - self.correct, converted=self.converted,
                        not_converted=self.outcomes - self.converted,
                        latency_buckets={float(b): float(c) for b, c in zip(BOUNDS, cumulative, strict=True)},
                        bins={"f": {str(i): int(c) for i, c in enumerate(self.bins)}}, reference=REFERENCE,
                        model={"name": "m", "version": "2" if variant == "canary" else "1", "variant": variant})


def joint(accuracy: float, shadow_accuracy: float, disagree: float) -> list[float]:
    """Shares of (both right, only served right, only shadow right, both wrong) for two models of
    these accuracies that disagree on ``disagree`` of the requests (at least their accuracy gap)."""
    gap = shadow_accuracy - accuracy
    served_only = max((disagree - abs(gap)) / 2, 0) + max(-gap, 0)
    shadow_only = served_only + gap
    both = accuracy - served_only
    return [both, served_only, shadow_only, 1 - both - served_only - shadow_only]


def z_worse(hits_c: int, n_c: int, hits_s: int, n_s: int, higher_is_better: bool, z: float) -> bool:
    """One-sided two-proportion z-test: is the canary worse than stable at this look?"""
    pooled = (hits_c + hits_s) / (n_c + n_s)
    se = math.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / n_c + 1 / n_s))
    diff = hits_c / n_c - hits_s / n_s
    return (-diff if higher_is_better else diff) / se > z


def run(analyses: int, looks: int, per_look: int, canary_accuracy: float, seed: int, canary_per_look: int = 0,
        conversion: float | None = 0.05, disagree: float = 0.06, labelled: float = 1.0) -> dict:
    """``per_look`` requests to stable and ``canary_per_look`` (default the same) to the canary per look,
    ``labelled`` of them with a label. Per method: the look of its first rollback, the labels per
    side when it promoted, and (aicd's) the labels per side when online accuracy first passed."""
    canary_per_look = canary_per_look or per_look
    z, z_corrected = NormalDist().inv_cdf(0.95), NormalDist().inv_cdf(1 - 0.01 / 3)
    configs = {"aicd": MonitorConfig(), "aicd, paired": MonitorConfig(),
               "aicd, tolerances 0": MonitorConfig(max_accuracy_drop=0, max_error_rate_increase=0,
                                                   max_slow_share_increase=0, max_conversion_drop=0)}
    rng = np.random.default_rng(seed)
    z_tests = {"fixed-horizon z-test": z, "z-test, 1 % family-wise": z_corrected}
    first = {**{name: [] for name in configs}, **{name: [] for name in z_tests}, "threshold count": []}
    horizon = {name: math.ceil(planned_samples(cut) / (canary_per_look * labelled)) for name, cut in z_tests.items()}
    horizon["threshold count"] = FLAGGER_ITERATIONS
    promoted = {name: [] for name in first}
    accuracy_passed = {name: [] for name in configs}
    retrains = 0
    for _ in range(analyses):
        stable, canary = Arm(), Arm()
        found, promote_look, accurate = dict.fromkeys(first), dict.fromkeys(first), dict.fromkeys(configs)
        failures = 0
        for look in range(1, looks + 1):
            _, c_s, l_s = stable.add(rng, per_look, 0.92, conversion, labelled=labelled)
            e_c, c_c, l_c = canary.add(rng, canary_per_look, canary_accuracy, conversion, (0.92, disagree), labelled)
            snaps = {"stable": stable.snapshot("stable"), "canary": canary.snapshot("canary")}
            paired = {**snaps, "canary": canary.snapshot("canary", paired=True)}
            for name, cfg in configs.items():
                if found[name] is None and promote_look[name] is None:
                    evaluation = evaluate(paired if "paired" in name else snaps, "canary", cfg)
                    decision = decide([evaluation], cfg).decision
                    accuracy = next(c for c in evaluation.checks
                                    if c.metric == "online-accuracy" and c.test != "absolute")
                    if accurate[name] is None and accuracy.verdict == "pass":
                        accurate[name] = canary.labels
                    found[name] = look if decision == "rollback" else None
                    promote_look[name] = look if decision == "promote" else None
                    retrains += decision == "retrain"
            for name, cut in z_tests.items():
                if found[name] is None and (
                        z_worse(canary.correct, canary.labels, stable.correct, stable.labels, True, cut)
                        or z_worse(canary.errors, canary.requests, stable.errors, stable.requests, False, cut)
                        or (conversion is not None and z_worse(canary.converted, canary.requests, stable.converted,
                                                               stable.requests, True, cut))):
                    found[name] = look
            failures += (c_c / max(l_c, 1) < c_s / max(l_s, 1) - 0.02) or (e_c / canary_per_look > 0.01)
            if found["threshold count"] is None and failures >= 2:
                found["threshold count"] = look
            for name, last in horizon.items():  # a planned end: promote if nothing rolled back by then
                if look == last and found[name] is None:
                    promote_look[name] = look
        for method, look in found.items():
            first[method].append(look)
            promoted[method].append(promote_look[method] and round(promote_look[method] * canary_per_look
                                                                   * labelled))
        for method, labels in accurate.items():
            accuracy_passed[method].append(labels)
    return {"first": first, "retrains": retrains, "promoted": promoted, "per_look": round(canary_per_look * labelled),
            "accuracy_passed": accuracy_passed}


FLAGGER_ITERATIONS = 10


def planned_samples(z_alpha: float, drop: float = 0.02, accuracy: float = 0.92, power: float = 0.8) -> int:
    """Per side, for a one-sided two-proportion test to detect ``drop`` at ``power``: the fixed horizon."""
    z_beta = NormalDist().inv_cdf(power)
    return math.ceil((z_alpha + z_beta) ** 2 * 2 * accuracy * (1 - accuracy) / drop ** 2)


def report(title: str, result: dict, analyses: int) -> dict[str, float]:
    print(f"\n{title}")
    print(f"  {'method':<24}{'rollbacks':>10}{'rate':>8}{'median labels/side to roll back':>33}"
          f"{'promoted':>10}{'median labels/side to promote':>31}")
    rates = {}
    for method, looks in result["first"].items():
        hits = [look for look in looks if look is not None]
        rates[method] = len(hits) / analyses
        median = f"{np.median(hits) * result['per_look']:,.0f}" if hits else "-"
        promotions = [n for n in result["promoted"][method] if n]
        promote = f"{np.median(promotions):,.0f}" if promotions else "-"
        print(f"  {method:<24}{len(hits):>10}{rates[method]:>8.1%}{median:>33}{len(promotions):>10}{promote:>31}")
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--analyses", type=int, default=500)
    parser.add_argument("--looks", type=int, default=48)
    parser.add_argument("--per-look", type=int, default=250)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--disagree", type=float, default=0.06,
                        help="share of requests the canary and stable models disagree on (aicd, paired)")
    args = parser.parse_args()
    began = time.monotonic()
    print(f"{args.analyses} analyses x {args.looks} looks x {args.per_look} requests per version per look")
    aa = run(args.analyses, args.looks, args.per_look, 0.92, args.seed, disagree=args.disagree)
    aa_rates = report("A/A — equal accuracy (every rollback is false)", aa, args.analyses)
    print(f"  aicd retrain decisions on undrifted traffic: {aa['retrains']}")
    plain = run(max(args.analyses // 5, 20), args.looks, args.per_look, 0.92, args.seed + 3, conversion=None,
               disagree=args.disagree)
    report("A/A without business outcomes — accuracy, errors and latency only (the cost of promoting)", plain,
           max(args.analyses // 5, 20))
    worse = run(max(args.analyses // 5, 20), args.looks, args.per_look, 0.85, args.seed + 1, disagree=args.disagree)
    report("worse canary — accuracy 85 % against 92 % (every rollback is right)", worse, max(args.analyses // 5, 20))
    rare = run(args.analyses, 200, 475, 0.92, args.seed + 2, canary_per_look=25, conversion=0.01,
               disagree=args.disagree)
    rare_rates = report("A/A, rare outcome in a small canary — conversion 1 %, 5 % of traffic to the canary, "
                        "200 looks (every rollback is false)", rare, args.analyses)
    aicd = max(aa_rates["aicd"], aa_rates["aicd, paired"], rare_rates["aicd"], rare_rates["aicd, paired"],
               rare_rates["aicd, tolerances 0"])
    print("\nfalse-rollback rate under peeking (worst aicd case): "
          f"aicd {aicd:.1%} (bar: <= 1 %) — {'MET' if aicd <= 0.01 else 'MISSED'}")
    for method in ("aicd, tolerances 0", "fixed-horizon z-test", "z-test, 1 % family-wise", "threshold count"):
        ratio = f"{aa_rates[method] / aicd:.0f}x aicd's" if aicd else "aicd had none"  # the first scenario
        print(f"  {method}: {aa_rates[method]:.1%} ({ratio})")
    sparse = run(max(args.analyses // 5, 20), args.looks, 4 * args.per_look, 0.92, args.seed + 4, conversion=None,
                 disagree=args.disagree, labelled=0.25)
    report("A/A, labels for 1 request in 4, no business outcomes — promotion waits on online accuracy", sparse,
           max(args.analyses // 5, 20))
    print(f"\nlabels per side an equal canary costs (the models disagree on {args.disagree:.0%} of requests; "
          "goal: half with pairing)")
    for title, result, key in (("online accuracy passes, every request labelled", plain, "accuracy_passed"),
                               ("promoted, every request labelled (errors decide last)", plain, "promoted"),
                               ("promoted, 1 request in 4 labelled", sparse, "promoted")):
        unpaired, paired = (np.median([n for n in result[key][m] if n] or [math.nan]) for m in ("aicd", "aicd, paired"))
        print(f"  {title}: aicd {unpaired:,.0f}, paired {paired:,.0f} — {unpaired / paired:.1f}x fewer")
    print(f"({time.monotonic() - began:.0f} s)")
    return 0 if max(aicd, aa_rates["aicd, tolerances 0"]) <= 0.01 else 1


if __name__ == "__main__":
    raise SystemExit(main())
