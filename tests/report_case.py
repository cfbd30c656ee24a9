"""One data gate run whose reports have everything a reader must find: a failed check, drifted numeric
and categorical columns, a column that did not drift, and hostile text as a column name and as a
category level. Shared by the unit tests of the HTML report and its real-browser test."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from aicd.errors import GateFailed
from aicd.gha import Actions
from aicd.steps import validate
from tests.conftest import STEP_ENV

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
ROWS = 2000


def _frame(seed: int, shifted: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    plans = ["basic", "pro", IMG, "premium"] if shifted else ["basic", "pro", IMG]  # premium: unseen, so `other`
    weights = [0.25, 0.25, 0.4, 0.1] if shifted else [0.6, 0.3, 0.1]
    return pd.DataFrame({
        "monthly_charges": rng.normal(80 if shifted else 50, 10, ROWS).round(2),
        "plan": rng.choice(plans, ROWS, p=weights),
        SCRIPT: rng.normal(5 if shifted else 0, 1, ROWS).round(3),
        "region": rng.choice(["north", "south"], ROWS),  # unchanged: must read as not drifted
        "churned": rng.choice([0, 1], ROWS, p=[0.6, 0.4]),
    })


def run_gate(folder: Path) -> tuple[dict, Path]:
    """Runs the data gate on a shifted current dataset against its reference in ``folder``; returns the
    JSON report's body and the HTML report's path. The hostile column breaks a ``max`` rule, so the
    gate fails — with drift as well."""
    _frame(1, False).to_csv(folder / "ref.csv", index=False)
    _frame(2, True).to_csv(folder / "cur.csv", index=False)
    (folder / "aicd.yml").write_text(f"data:\n  label: churned\n  columns:\n    {json.dumps(SCRIPT)}: {{max: 7.5}}\n"
                                     "  drift: {method: auto}\n")
    inputs = {"data": str(folder / "cur.csv"), "reference": str(folder / "ref.csv"),
              "config": str(folder / "aicd.yml"), "report": str(folder / "validate.json")}
    with contextlib.suppress(GateFailed):  # expected: the reports are written before the gate fails
        validate.run(inputs, Actions({}), env=STEP_ENV)
    return json.loads((folder / "validate.json").read_text()), folder / "validate.html"
