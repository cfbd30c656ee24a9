"""Simulated production traffic for the demo and the tests: predictions now, true labels later.

Rows of a dataset are sent to ``/predict`` without their label; once all are sent, each request's
true label is posted to ``/feedback`` (the delayed feedback the story's online accuracy needs).
``flip_share`` corrupts that share of the true labels, to make a healthy model look bad.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import ServiceError, UserError

__all__ = ["TrafficResult", "send_traffic"]


@dataclass(frozen=True)
class TrafficResult:
    requests: int
    failed: int
    feedback: int


def _post(url: str, body: dict, timeout: float = 10, token: str = "") -> dict:
    headers = {"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url, json.dumps(body).encode(), headers)
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        return json.loads(resp.read())


def send_traffic(endpoint: str, frame: pd.DataFrame, label: str, *, requests: int, seed: int = 0,
                 flip_share: float = 0.0, label_noise: float = 0.0, feedback_token: str = "") -> TrafficResult:
    """``requests`` predictions, then one feedback each (``feedback_token`` is the deployment's).
    ``flip_share`` of a 0/1 label is fed back flipped, and a numeric label gets normal noise of standard
    deviation ``label_noise``: what a worse classifier or regressor would see."""
    rng = np.random.default_rng(seed)
    rows = frame.sample(n=requests, replace=len(frame) < requests, random_state=seed)
    sent, failed = [], 0
    for record in json.loads(rows.to_json(orient="records", date_format="iso")):
        truth = record.pop(label)
        try:
            answer = _post(f"{endpoint}/predict", record)
        except urllib.error.HTTPError:
            failed += 1
            continue
        except (urllib.error.URLError, OSError) as exc:
            raise ServiceError(f"model server at {endpoint}", f"unreachable ({exc})", retryable=True) from None
        sent.append((answer["request_id"], truth))
    for request_id, truth in sent:
        if rng.random() < flip_share:
            truth = 1 - truth if isinstance(truth, int) else truth
        if label_noise:
            truth = float(truth) + float(rng.normal(0, label_noise))
        try:
            _post(f"{endpoint}/feedback", {"request_id": request_id, "label": truth}, token=feedback_token)
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise UserError(f"model server at {endpoint} refused the feedback ({exc.code})",
                                hint="give the deployment's feedback token (--feedback-token or "
                                     "AICD_FEEDBACK_TOKEN)") from None
            raise ServiceError(f"model server at {endpoint}", f"feedback failed ({exc.code})",
                               retryable=exc.code >= 500) from None
    return TrafficResult(requests, failed, len(sent))
