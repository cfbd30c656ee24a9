"""``python -m aicd.serve.front``: the stable endpoint of a docker deployment — a tiny TCP relay.

Each revision of a model runs in its own container; the front container owns the published port
and relays every new connection to the revision named in its state file (``{"current": N,
"previous": M}`` → container ``<prefix><N>`` on the deployment's network). Switching is an atomic
rewrite of that file (``--write-state``, run by the deploy step through ``docker exec``), so a
switch or a rollback needs no restart and drops no connection: connections already open finish on
the revision they started on, which stays up as the standby. A connection the current revision
refuses (it died, or is restarting) goes to the standby instead: nothing was sent yet, so the
retry is safe for any request. Stdlib only: it runs from any aicd serving image.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from pathlib import Path

from .logs import log

__all__ = ["main", "read_state", "write_state"]

CHUNK = 1 << 16
CONNECT = 2.0  # seconds to open a connection to one revision before trying the standby
DOWN_SECONDS = 1.0  # an upstream that refused a connection is tried last for this long


def read_state(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_state(path: Path, state: dict) -> None:
    """Atomic: a relay reading concurrently sees the old state or the new one, never half."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


class Relay:
    def __init__(self, state_file: Path, prefix: str, port: int):
        self.state_file, self.prefix, self.port = state_file, prefix, port
        self._seen: tuple[float, tuple[str, ...]] = (-1.0, ())
        self._down: dict[str, float] = {}  # upstream → loop time until which it is tried last

    def upstreams(self) -> tuple[str, ...]:
        """Container names of the current revision, then the standby; re-read only when the state
        file changed."""
        try:
            mtime = self.state_file.stat().st_mtime
        except OSError:
            return ()
        if mtime != self._seen[0]:
            state = read_state(self.state_file)
            names = tuple(f"{self.prefix}{state[k]}" for k in ("current", "previous") if _revision(state.get(k)))
            self._seen = (mtime, names if _revision(state.get("current")) else ())
        return self._seen[1]

    def ordered(self, now: float) -> list[str]:
        """The upstreams to try, current first — except one that refused a connection in the last
        DOWN_SECONDS, which goes last: a dead revision costs one failed connect a second, not one per
        request, until it answers again (or the state file changes)."""
        hosts = list(self.upstreams())
        return sorted(hosts, key=lambda h: self._down.get(h, 0) > now)

    async def handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        for host in self.ordered(loop.time()):
            try:
                up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(host, self.port), CONNECT)
            except (OSError, TimeoutError) as exc:
                if self._down.get(host, 0) <= loop.time():
                    log("warning", "upstream unreachable", upstream=host, error=str(exc))
                self._down[host] = loop.time() + DOWN_SECONDS
                continue
            self._down.pop(host, None)
            await asyncio.gather(_pipe(client_reader, up_writer), _pipe(up_reader, client_writer))
            return
        client_writer.write(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        with contextlib.suppress(OSError):
            await client_writer.drain()
        client_writer.close()


def _revision(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            writer.close()


async def serve(relay: Relay, host: str, port: int) -> None:
    server = await asyncio.start_server(relay.handle, host, port)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)  # PID 1 ignores it otherwise
    log("info", "front ready", listen=f"{host}:{port}", upstreams=list(relay.upstreams()))
    async with server:
        await stop.wait()
    log("info", "front stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aicd.serve.front", description=__doc__.splitlines()[0])
    parser.add_argument("--state", default="/run/aicd/state.json")
    parser.add_argument("--prefix", required=True, help="container name prefix of the revisions")
    parser.add_argument("--listen", default="0.0.0.0:8080")
    parser.add_argument("--upstream-port", type=int, default=8080)
    parser.add_argument("--write-state", metavar="JSON",
                        help='replace the state ({"current": N, "previous": M, ...}) atomically and exit')
    args = parser.parse_args(argv)
    state_file = Path(args.state)
    if args.write_state is not None:
        state = json.loads(args.write_state)
        if not isinstance(state, dict) or not all(v is None or _revision(v) for v in
                                                  (state.get("current"), state.get("previous"))):
            parser.error("--write-state: current and previous must be revision numbers or null")
        write_state(state_file, state)
        return 0
    host, _, port = args.listen.rpartition(":")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(Relay(state_file, args.prefix, args.upstream_port), host, int(port)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
