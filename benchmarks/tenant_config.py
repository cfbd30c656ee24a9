"""What reading aicd.yml costs as tenants grow: every stage reads every declared tenant's view (so one
tenant's typo stops them all), which makes the read linear in the tenants.

    python benchmarks/tenant_config.py

The coffee example's aicd.yml with 0, 10, 100 and 500 tenants, each overriding its data source, a
threshold, an estimator parameter and a monitor bound; prints the median parse time of 7 and the time
per tenant.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "shared"))

from aicd.config import parse_config  # noqa: E402
from aicd.examples.coffee import CONFIG_PATH  # noqa: E402


def config_text(tenants: int) -> str:
    base = Path(CONFIG_PATH).read_text(encoding="utf-8")
    if not tenants:
        return base
    rows = "".join(f"  t{i}:\n    data: {{source: data/t{i}.csv}}\n    model: {{thresholds: {{accuracy: 0.85}}, "
                   f"params: {{max_depth: {4 + i % 8}}}}}\n    monitor: {{min-accuracy: 0.8}}\n"
                   for i in range(tenants))
    return base + "tenants:\n" + rows


def median_seconds(text: str, runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        parse_config(text)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    base = median_seconds(config_text(0))
    print(f"{'tenants':>8} {'parse ms':>10} {'ms per tenant':>14}")
    print(f"{0:>8} {base * 1000:>10.1f} {'':>14}")
    for tenants in (10, 100, 500):
        seconds = median_seconds(config_text(tenants))
        print(f"{tenants:>8} {seconds * 1000:>10.1f} {(seconds - base) * 1000 / tenants:>14.2f}")


if __name__ == "__main__":
    main()
