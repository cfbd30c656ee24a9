"""How much the model leans on each feature: permutation importance on a few holdout rows (no I/O).

The data gate weighs drifted columns by it (:func:`aicd.data.verdict.weighted_share`): a drifted
feature the model ignores is not news that the dataset drifted. One prediction call answers for
every feature at once — the holdout sample stacked once per feature with that feature shuffled — so
the cost is one predict of (features + 1) × ``rows`` rows, a fraction of a second. That call runs on
one thread: on a busy runner an OpenMP model (histogram gradient boosting) was 10× slower on all cores
than on one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["ROWS", "permutation_importance"]

ROWS = 1000


def permutation_importance(model, holdout: pd.DataFrame, features: Sequence[str], label: str, task: str,
                           rows: int = ROWS, seed: int = 0) -> dict[str, float]:
    """Each feature's share of the loss the model suffers when that feature is shuffled (for a
    classifier one minus the probability of the true class, or the error rate without probabilities;
    the mean absolute error for a regressor), on at most ``rows`` seeded holdout rows.

    The shares are non-negative and sum to 1; a model no shuffle hurts gives every feature the same."""
    rng = np.random.default_rng(seed)
    sample = holdout.sample(n=min(rows, len(holdout)), random_state=seed) if len(holdout) > rows else holdout
    x, y = sample[list(features)].reset_index(drop=True), sample[label].to_numpy()
    blocks = [x]
    for name in features:
        shuffled = x.copy()
        shuffled[name] = x[name].to_numpy()[rng.permutation(len(x))]
        blocks.append(shuffled)
    loss = _loss(model, pd.concat(blocks, ignore_index=True), y, task, len(blocks))
    drop = np.clip(loss[1:] - loss[0], 0, None)
    weights = drop / drop.sum() if drop.sum() > 0 else np.full(len(features), 1 / max(len(features), 1))
    return {name: round(float(w), 6) for name, w in zip(features, weights, strict=True)}


def _loss(model, stacked: pd.DataFrame, truth: np.ndarray, task: str, blocks: int) -> np.ndarray:
    """One loss per block of ``stacked`` (classes compared as text)."""
    from threadpoolctl import threadpool_limits

    classes = getattr(model, "classes_", None)
    with threadpool_limits(1):
        if task == "classification" and classes is not None and hasattr(model, "predict_proba"):
            proba = np.asarray(model.predict_proba(stacked)).reshape(blocks, len(truth), len(classes))
            true = np.asarray(classes).astype(str)[None, :] == truth.astype(str)[:, None]  # rows × classes
            return 1 - (proba * true[None, :, :]).sum(axis=2).mean(axis=1)
        answers = np.asarray(model.predict(stacked)).reshape(blocks, len(truth))
    if task == "classification":
        return (answers.astype(str) != truth.astype(str)[None, :]).mean(axis=1)
    return np.abs(answers.astype(float) - truth.astype(float)[None, :]).mean(axis=1)
