"""A seeded generator for the story's ``user_behavior`` dataset: did a user click a coffee offer?

User features (age, visits per week, average spend, preferred roast, hour of the visit) meet coffee
attributes (roast, price, sweetness); ``clicked`` follows a readable rule plus a little label noise,
so a good model reaches about 0.95 accuracy and a bad one does not. ``drift`` moves production
behaviour away from the training data the way the story describes (more dark roast, pricier
coffee, more frequent visits); ``missing`` blanks out a share of one or more columns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["CONFIG_PATH", "LABEL", "generate"]

LABEL = "clicked"
CONFIG_PATH = Path(__file__).with_name("coffee.yml")
ROASTS = ["light", "medium", "dark"]


def generate(rows: int = 3000, seed: int = 7, drift: float = 0.0, missing: dict[str, float] | None = None,
             label_noise: float = 0.03) -> pd.DataFrame:
    """``rows`` seeded rows; ``drift`` in [0, 1] shifts the feature distributions."""
    rng = np.random.default_rng(seed)
    pref_p = np.array([0.35, 0.40, 0.25]) * (1 - drift) + np.array([0.10, 0.25, 0.65]) * drift
    frame = pd.DataFrame({
        "age": rng.integers(18, 71, rows),
        "visits_per_week": np.round(rng.gamma(2.0 + 3 * drift, 1.5, rows), 2),
        "avg_spend": np.round(rng.normal(4.5, 1.0, rows).clip(1.5, 9.0), 2),
        "preferred_roast": rng.choice(ROASTS, rows, p=pref_p / pref_p.sum()),
        "hour": rng.integers(6, 23, rows),
        "coffee_roast": rng.choice(ROASTS, rows),
        "coffee_price": np.round(rng.uniform(2.0, 7.0 + 2 * drift, rows), 2),
        "coffee_sweetness": np.round(rng.uniform(0, 1, rows), 3),
    })
    frame[LABEL] = _click_rule(frame, rng, label_noise)
    for column, share in (missing or {}).items():
        frame.loc[rng.random(rows) < share, column] = np.nan
    return frame


def _click_rule(f: pd.DataFrame, rng: np.random.Generator, noise: float) -> np.ndarray:
    logit = (-2.2 + 2.8 * (f.preferred_roast == f.coffee_roast) + 2.0 * (f.coffee_price <= f.avg_spend)
             + 0.9 * (f.hour < 11) + 0.15 * f.visits_per_week + 1.5 * (f.coffee_sweetness - 0.5) * (f.age < 30))
    clicked = (logit > 0).to_numpy()
    flip = rng.random(len(f)) < noise
    return np.where(flip, ~clicked, clicked).astype(int)
