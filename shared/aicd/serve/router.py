"""``python -m aicd.serve.router``: the A/B split without a service mesh.

Each request's user key (a header, ``AICD_AB_KEY``, default ``x-user-id``) is hashed to one of
10,000 buckets; buckets below ``split`` x 100 go to variant b, the rest to a. The same user always
lands on the same variant (sticky, across router replicas and restarts: no state), and the split is
exact to 0.01 % of the key space. A request without the key goes to a, the control. The answer
carries ``x-aicd-variant``; per-variant metrics come from the variants' own servers.

Why not a mesh or ingress annotations: they differ per cluster and most weight by request, not by
user; a deterministic hash in a 100-line relay works on any cluster (and under kwok in the tests).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import urllib.parse

from .logs import log

__all__ = ["bucket", "create_router", "variant_for"]

BUCKETS = 10_000
HOP_HEADERS = {b"connection", b"keep-alive", b"transfer-encoding", b"host", b"content-length"}


def bucket(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % BUCKETS


def variant_for(key: str | None, split: float) -> str:
    """``b`` for ``split`` % of keys (by bucket), ``a`` otherwise and for requests without a key."""
    if not key:
        return "a"
    return "b" if bucket(key) < round(split * BUCKETS / 100) else "a"


def create_router(upstreams: dict[str, str], split: float, key_header: str = "x-user-id"):
    header = key_header.lower().encode()

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["path"] in ("/healthz", "/readyz"):
            await _answer(send, 200, b'{"status": "ok"}', [])
            return
        key = next((v.decode("latin-1") for k, v in scope["headers"] if k == header), None)
        variant = variant_for(key, split)
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            status, headers, answer = await _forward(upstreams[variant], scope, body)
        except (TimeoutError, OSError, ValueError) as exc:
            log("warning", "variant unreachable", variant=variant, error=str(exc))
            status, headers, answer = 502, [], b'{"error": "variant unreachable"}'
        await _answer(send, status, answer, [*headers, (b"x-aicd-variant", variant.encode())])

    return app


async def _forward(base: str, scope, body: bytes) -> tuple[int, list, bytes]:
    url = urllib.parse.urlsplit(base)
    reader, writer = await asyncio.wait_for(asyncio.open_connection(url.hostname, url.port or 80), 5)
    try:
        target = scope["path"] + (f"?{scope['query_string'].decode()}" if scope.get("query_string") else "")
        head = [f"{scope['method']} {target} HTTP/1.1".encode(), f"host: {url.netloc}".encode(),
                f"content-length: {len(body)}".encode(), b"connection: close"]
        head += [k + b": " + v for k, v in scope["headers"] if k not in HOP_HEADERS]
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
    head_raw, _, payload = raw.partition(b"\r\n\r\n")
    lines = head_raw.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = [tuple(x.strip() for x in line.split(b":", 1)) for line in lines[1:] if b":" in line]
    return status, [(k.lower(), v) for k, v in headers if k.lower() not in HOP_HEADERS], payload


async def _answer(send, status: int, body: bytes, headers: list) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *[(k, v) for k, v in headers if k != b"content-type"]]})
    await send({"type": "http.response.body", "body": body})


def main() -> int:
    import uvicorn

    upstreams = {"a": os.environ["AICD_AB_A"], "b": os.environ["AICD_AB_B"]}
    unresolved = [v for v, url in upstreams.items() if "$(" in url]
    if unresolved:  # kubelet left a service variable unexpanded: routing would send users nowhere
        log("error", "router cannot start", reason=f"no address for variant {unresolved[0]}: "
            f"{upstreams[unresolved[0]]} (its Service did not exist when this pod started, or service "
            "links are off)")
        return 3
    split = float(os.environ.get("AICD_AB_SPLIT", "50"))
    app = create_router(upstreams, split, os.environ.get("AICD_AB_KEY", "x-user-id"))
    log("info", "router starting", split=split, upstreams=upstreams)
    uvicorn.run(app, host=os.environ.get("AICD_HOST", "0.0.0.0"), port=int(os.environ.get("AICD_PORT", "8080")),
                log_config=None, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
