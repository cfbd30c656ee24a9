"""Lineage from data to the serving revision: what each stage records, and how it reads back (pure).

    data (data-version, source) → run → model version → image → revisions

* train logs the dataset as the run's MLflow input (``mlflow.log_input``'s entity: name, digest =
  data-version, a JSON source saying where the rows came from, MLflow's column schema, a profile)
  and tags the run and the version with ``aicd.data_version`` and ``aicd.data_source``;
* deploy labels the image with the model, run and data version (``io.aicd.*``) and appends each
  revision it makes serve to the version's ``aicd.deployments`` tag;
* ``aicd lineage models:/<name>/<version>`` reads them back into one :class:`Lineage`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

__all__ = ["DEPLOYMENTS_TAG", "KEEP_DEPLOYMENTS", "DatasetRecord", "Lineage", "dataset_record", "render",
           "with_deployment"]

DEPLOYMENTS_TAG = "aicd.deployments"
KEEP_DEPLOYMENTS = 20  # a tag value is at most 5,000 characters on MLflow's default store
_SOURCE_TYPES = {"file": "local", "sql": "sql", "dvc": "dvc", "s3": "s3", "gs": "gcs", "az": "azure"}
_MLFLOW_TYPES = (("bool", "boolean"), ("int", "long"), ("float", "double"), ("datetime", "datetime"))


@dataclass(frozen=True)
class DatasetRecord:
    """The training data as MLflow's dataset input records it: ``digest`` is the data-version;
    ``source`` a JSON object (kind, uri, and per kind: query, DVC hash and revision ...)."""

    name: str
    digest: str
    source_type: str
    source: str
    schema: str
    profile: str

    @property
    def origin(self) -> dict[str, str]:
        try:
            found = json.loads(self.source)
        except ValueError:
            return {"uri": self.source}
        return found if isinstance(found, dict) else {"uri": self.source}


def dataset_record(spec: str, origin: Mapping[str, str], data_version: str, dtypes: Mapping[str, str],
                   rows: int) -> DatasetRecord:
    """``dtypes``: column → pandas dtype name. The name is the file's stem, the query's label, or the URL's
    last part; the schema is MLflow's ``mlflow_colspec`` JSON so its UI shows the columns."""
    name = PurePosixPath(spec.split("?")[0].rstrip("/")).stem if origin.get("kind") != "sql" else origin["query"]
    columns = [{"name": str(c), "type": _mlflow_type(t), "required": False} for c, t in dtypes.items()]
    digest = data_version if len(data_version) <= 36 else hashlib.sha256(data_version.encode()).hexdigest()[:32]
    return DatasetRecord(name=(name or "data")[:500], digest=digest,  # MLflow allows 36 characters
                         source_type=_SOURCE_TYPES.get(origin.get("kind", "file"), "local"),
                         source=json.dumps(dict(origin), sort_keys=True),
                         schema=json.dumps({"mlflow_colspec": columns}),
                         profile=json.dumps({"num_rows": rows, "num_columns": len(columns)}))


def _mlflow_type(dtype: str) -> str:
    return next((kind for prefix, kind in _MLFLOW_TYPES if dtype.startswith(prefix)), "string")


def with_deployment(tag_value: str | None, entry: Mapping[str, object]) -> str:
    """The ``aicd.deployments`` tag with ``entry`` appended (newest last, the last KEEP_DEPLOYMENTS kept)."""
    try:
        entries = json.loads(tag_value) if tag_value else []
    except ValueError:
        entries = []
    entries = [e for e in entries if isinstance(e, dict)] + [dict(entry)]
    while len(entries) > 1 and len(json.dumps(entries)) > 4800:
        entries.pop(0)
    return json.dumps(entries[-KEEP_DEPLOYMENTS:], separators=(",", ":"))


@dataclass(frozen=True)
class Lineage:
    """One model version and everything on either side of it."""

    model_uri: str
    run_id: str
    datasets: Sequence[DatasetRecord]
    tags: Mapping[str, str]  # the version's (aicd.* and the git commit)
    deployments: Sequence[Mapping[str, object]] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {"model_uri": self.model_uri, "run_id": self.run_id,
                "data": [{"name": d.name, "data_version": d.digest, "source_type": d.source_type, **d.origin}
                         for d in self.datasets],
                "commit": self.tags.get("aicd.git_sha", ""), "workflow_run": self.tags.get("aicd.workflow_run", ""),
                "gate": self.tags.get("aicd.gate", ""), "deployments": list(self.deployments)}


def render(lineage: Lineage) -> str:
    """Plain text, one stage per line, oldest first (values come from the registry: shown, never run)."""
    body = lineage.to_dict()
    lines = []
    for data in body["data"] or [{"data_version": lineage.tags.get("aicd.data_version", "?"), "uri": "(not recorded)"}]:
        where = f"{data['query']} on {data.get('uri', '')}" if data.get("query") else data.get("uri", "")
        extra = "".join(f", {k} {data[k]}" for k in ("dvc_md5", "dvc_rev", "dvc_remote") if data.get(k))
        lines.append(f"data      {data['data_version']}  {where}{extra}")
    commit = f"  commit {body['commit'][:12]}" if body["commit"] else ""
    lines.append(f"run       {lineage.run_id}{commit}" + (f"  {body['workflow_run']}" if body["workflow_run"] else ""))
    lines.append(f"model     {lineage.model_uri}" + (f"  (gate {body['gate']})" if body["gate"] else ""))
    images = list(dict.fromkeys(str(d.get("image", "")) for d in body["deployments"] if d.get("image")))
    lines += [f"image     {image}" for image in images]
    for d in body["deployments"]:
        lines.append(f"revision  r{d.get('revision', '?')}  {d.get('deployment', '?')} ({d.get('target', '?')}), "
                     f"{d.get('command', 'deploy')} at {d.get('at', '?')}")
    if not body["deployments"]:
        lines.append("revision  (never deployed)")
    return "\n".join(lines) + "\n"
