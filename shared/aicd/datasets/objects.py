"""Object storage sources: ``s3://``, ``gs://`` and ``az://`` paths and globs, copied to the spool.

    data: s3://lake/behaviour/day=2026-12-01/*.parquet

Through pyarrow's own file systems (no boto3, gcsfs or adlfs), with credentials found the way each
cloud's SDK finds them, so what works for the team's other tools works here:

* ``s3://bucket/key`` — the AWS SDK's chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/
  ``AWS_SESSION_TOKEN``, a profile, web identity on EKS or GitHub OIDC, instance metadata);
  ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` for an S3-compatible store; ``AWS_REGION``.
* ``gs://bucket/key`` — Google's application default credentials (``GOOGLE_APPLICATION_CREDENTIALS``,
  workload identity); ``STORAGE_EMULATOR_HOST`` for an emulator.
* ``az://container/path`` — ``AZURE_STORAGE_CONNECTION_STRING``, or ``AZURE_STORAGE_ACCOUNT_NAME``
  with ``AZURE_STORAGE_ACCOUNT_KEY`` (else Azure's default credential: managed identity, workload
  identity, the Azure CLI login).

Objects are streamed to local files block by block (bounded memory) under their names, so the same
bytes get the same data-version as a local copy, and the scan reads them in parallel like any file.
Secrets found in the environment are masked first. A failure is one line naming the URL.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pyarrow as pa

from ..errors import DataError, ServiceError

__all__ = ["SCHEMES", "fetch_objects", "is_object_url"]

SCHEMES = ("s3", "gs", "az")
BLOCK = 8 << 20
SECRETS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_SAS_TOKEN")


def is_object_url(spec: str) -> bool:
    return urlsplit(spec).scheme.lower() in SCHEMES and "://" in spec


def fetch_objects(spec: str, into: Path, env: Mapping[str, str], mask: Callable[[str], None] = lambda s: None,
                  say: Callable[[str], None] = lambda text: None,
                  check: Callable[[str], None] = lambda url: None) -> list[tuple[str, Path]]:
    """Copy the object (or the objects the glob matches, sorted) into ``into``; returns (URL, local file)
    of each. ``check(url)`` runs on every URL before anything is copied (the format check). Each local
    copy keeps its object's name (a glob's data-version hashes names) in a numbered folder of its own."""
    for name in SECRETS:
        if env.get(name):
            mask(env[name])
    scheme, bucket, key = _split(spec)
    fs = _filesystem(scheme, env, mask)
    keys = _matches(fs, spec, bucket, key)
    for path in keys:
        check(f"{scheme}://{path}")
    total = 0
    files = []
    for i, path in enumerate(keys):
        local = into / f"{i:05d}" / PurePosixPath(path).name
        local.parent.mkdir(parents=True)
        total += _copy(fs, spec, path, local)
        files.append((f"{scheme}://{path}", local))
    say(f"copied {len(files)} object(s), {total / 1e6:,.1f} MB, from {spec}")
    return files


def _split(spec: str) -> tuple[str, str, str]:
    parts = urlsplit(spec)
    bucket, key = parts.netloc, parts.path.lstrip("/")
    if not bucket or not key:
        raise DataError("an object URL names a bucket and a key", file=spec,
                        hint=f"e.g. {parts.scheme}://bucket/path/data.parquet or {parts.scheme}://bucket/path/*.parquet")
    return parts.scheme.lower(), bucket, key


def _fixed_prefix(key: str) -> str:
    """The key's directories before the first glob character (where listing starts)."""
    head = re.split(r"[*?\[]", key, maxsplit=1)[0]
    return head.rsplit("/", 1)[0] if "/" in head else ""


def _matches(fs, spec: str, bucket: str, key: str) -> list[str]:
    import pyarrow.fs as pafs

    target = f"{bucket}/{key}"
    try:
        if not glob.has_magic(key):
            info = fs.get_file_info(target)
            if info.type == pafs.FileType.File:
                return [target]
            if info.type == pafs.FileType.Directory:
                raise DataError("is a folder of objects, not one", file=spec, hint="name an object, or a glob of "
                                f"its partitions such as {spec.rstrip('/')}/*.parquet")
            raise DataError("no such object", file=spec, hint="check the bucket and the key")
        base = f"{bucket}/{_fixed_prefix(key)}".rstrip("/")
        found = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    except OSError as exc:
        raise _storage_error(spec, exc) from None
    except pa.ArrowInvalid as exc:
        raise DataError(f"not a valid object path: {_first_line(exc)}", file=spec, hint="check the URL") from None
    pattern = _glob_regex(target)
    names = sorted(i.path for i in found if i.type == pafs.FileType.File and pattern.fullmatch(i.path))
    if not names:
        raise DataError("no object matches the glob", file=spec, hint="check the bucket, the prefix and the pattern")
    return names


def _glob_regex(pattern: str) -> re.Pattern:
    """A glob as local globs read it: ``*`` and ``?`` stay within one path segment, ``**/`` spans any
    number of folders (none too), ``[...]`` is a character class."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1:]:
            end = pattern.index("]", i + 1)
            out.append("[" + pattern[i + 1:end].replace("!", "^", 1) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def _copy(fs, spec: str, path: str, local: Path) -> int:
    size = 0
    try:
        with fs.open_input_stream(path) as src, open(local, "wb") as out:
            for block in iter(lambda: src.read(BLOCK), b""):
                try:
                    out.write(block)
                except OSError as exc:  # the runner's disk, not the storage
                    raise ServiceError("the runner's disk", f"cannot copy {spec} to {local.parent}: {exc}",
                                       retryable=False, hint="free disk space under RUNNER_TEMP") from None
                size += len(block)
    except (OSError, pa.ArrowInvalid) as exc:
        local.unlink(missing_ok=True)
        raise _storage_error(spec, exc) from None
    except ServiceError:
        local.unlink(missing_ok=True)
        raise
    return size


def _filesystem(scheme: str, env: Mapping[str, str], mask: Callable[[str], None]):
    import pyarrow.fs as pafs

    try:
        if scheme == "s3":
            return pafs.S3FileSystem(**_s3_options(env))
        if scheme == "gs":
            return pafs.GcsFileSystem(**_gcs_options(env))
        return pafs.AzureFileSystem(**_azure_options(env, mask))
    except (OSError, ValueError, TypeError) as exc:
        raise ServiceError(f"{scheme}:// storage", f"cannot set up the client: {_first_line(exc)}", retryable=False,
                           hint="check the storage settings in the step's environment") from None


def _endpoint(url: str) -> dict[str, str]:
    parts = urlsplit(url if "://" in url else f"https://{url}")
    return {"endpoint_override": parts.netloc + parts.path.rstrip("/"), "scheme": parts.scheme or "https"}


def _s3_options(env: Mapping[str, str]) -> dict:
    options: dict = {}
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        options.update(_endpoint(endpoint))
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        options["region"] = region
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        options.update(access_key=env["AWS_ACCESS_KEY_ID"], secret_key=env["AWS_SECRET_ACCESS_KEY"],
                       session_token=env.get("AWS_SESSION_TOKEN") or None)
    return options


def _gcs_options(env: Mapping[str, str]) -> dict:
    emulator = env.get("STORAGE_EMULATOR_HOST")
    return {"anonymous": True, **_endpoint(emulator if "://" in emulator else f"http://{emulator}")} \
        if emulator else {}


def _azure_options(env: Mapping[str, str], mask: Callable[[str], None]) -> dict:
    settings = _connection_string(env.get("AZURE_STORAGE_CONNECTION_STRING", ""), mask)
    account = settings.get("AccountName") or env.get("AZURE_STORAGE_ACCOUNT_NAME") or env.get("AZURE_STORAGE_ACCOUNT")
    if not account:
        raise DataError("az:// needs the storage account", file="environment",
                        hint="set AZURE_STORAGE_ACCOUNT_NAME (or AZURE_STORAGE_CONNECTION_STRING) in the step's env")
    options: dict = {"account_name": account}
    key = settings.get("AccountKey") or env.get("AZURE_STORAGE_ACCOUNT_KEY")
    sas = settings.get("SharedAccessSignature") or env.get("AZURE_STORAGE_SAS_TOKEN")
    if key:
        options["account_key"] = key
    elif sas:
        options["sas_token"] = sas
    if settings.get("BlobEndpoint"):
        parts = urlsplit(settings["BlobEndpoint"])
        options.update(blob_storage_authority=parts.netloc, blob_storage_scheme=parts.scheme or "https",
                       dfs_storage_authority=parts.netloc, dfs_storage_scheme=parts.scheme or "https")
    return options


def _connection_string(text: str, mask: Callable[[str], None]) -> dict[str, str]:
    settings = dict(part.split("=", 1) for part in text.split(";") if "=" in part)
    for name in ("AccountKey", "SharedAccessSignature"):
        if settings.get(name):
            mask(settings[name])
    return settings


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _storage_error(spec: str, exc: Exception) -> Exception:
    text = _first_line(exc)
    if isinstance(exc, FileNotFoundError) or re.search(r"NoSuchBucket|NO_SUCH_BUCKET|NoSuchKey|NOT_FOUND|not found|"
                                                       r"\b404\b|does not exist",
                                                       text, re.IGNORECASE):
        return DataError(f"not found: {text}", file=spec, hint="check the bucket and the key")
    denied = re.search(r"ACCESS_DENIED|AccessDenied|\b403\b|Forbidden|SIGNATURE_DOES_NOT_MATCH|SignatureDoesNotMatch|"
                       r"InvalidAccessKeyId|AuthorizationFailure|AuthenticationFailed|Unauthorized|\b401\b|"
                       r"PERMISSION_DENIED|UNAUTHENTICATED", text, re.IGNORECASE)
    if denied:
        return ServiceError(spec, f"access refused: {text}", retryable=False,
                            hint="check the credentials in the step's environment and the bucket's policy")
    return ServiceError(spec, f"cannot read: {text}", retryable=True,
                        hint="check that the runner reaches the storage endpoint")
