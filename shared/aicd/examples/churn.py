"""A churn table unlike the coffee example: a customer id, a signup date (ISO text), numeric usage
with missing cells, narrow and wide string categoricals, and an imbalanced label (about 1 in 5
churn). Seeded, so tests and benchmarks see the same rows for the same arguments."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["churn_frame"]

PLANS = ("basic", "pro", "team")
PAYMENTS = ("card", "invoice", "paypal", "sepa")


def churn_frame(rows: int = 6000, seed: int = 0, regions: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    plan = rng.choice(PLANS, rows, p=[0.6, 0.3, 0.1])
    usage = rng.gamma(2.0, 3.0, rows)
    tickets = rng.poisson(1.0, rows).astype(float)
    tenure = rng.integers(1, 900, rows)
    logit = -1.2 - 0.35 * usage + 0.6 * tickets + 0.8 * (plan == "basic") - tenure / 600
    churned = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame({
        "customer_id": [f"C{i:07d}" for i in rng.permutation(rows)],
        "signup_date": (pd.Timestamp("2026-11-30") - pd.to_timedelta(tenure, unit="D")).strftime("%Y-%m-%d"),
        "usage_hours": usage.round(2),
        "support_tickets": tickets,
        "tenure_days": tenure,
        "plan": plan.astype(object),
        "payment": rng.choice(PAYMENTS, rows).astype(object),
        "region": np.array([f"region-{i:03d}" for i in rng.zipf(1.3, rows) % regions], dtype=object),
        "churned": churned,
    })
    for column in ("usage_hours", "payment"):  # about 2 % missing cells
        frame.loc[rng.random(rows) < 0.02, column] = None
    return frame
