"""A real PostgreSQL server for the SQL source tests: a private cluster on a free loopback port.

Debian's ``postgresql`` package (installed by scripts/install-test-packages) provides the server;
``initdb`` makes a cluster in a temp dir with password (SCRAM) authentication, ``pg_ctl`` starts it
on 127.0.0.1 only. PostgreSQL refuses to run as root, so under root the cluster belongs to the
``postgres`` system user the package creates. Stopped with ``pg_ctl stop`` (the server's own PID).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.integration.conftest import free_port

__all__ = ["PostgresServer"]

USER, PASSWORD, DATABASE = "aicd", "s3cr3t-pw", "behaviour"


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [p for p in [shutil.which(name)] if p]
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} not found: run scripts/install-test-packages (Debian `postgresql`)")
    return found[-1]


class PostgresServer:
    """``url`` is a SQLAlchemy URL with the password; ``superuser_url`` connects as the cluster's owner
    over the Unix socket (to terminate a session mid-read)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="aicd-pg-"))
        self.port = free_port()
        self.data = self.root / "data"
        self.as_root = os.geteuid() == 0
        self.url = f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *cmd: str, timeout: float = 120, stdin: str | None = None) -> str:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        done = subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=timeout, input=stdin,
                              cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed: {done.stderr.strip()[-1500:]}")
        return done.stdout

    def start(self) -> None:
        os.chmod(self.root, 0o755)
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.as_root:
            shutil.chown(pwfile, "postgres", "postgres")
        self._run(_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth-local=trust",
                  "--auth-host=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync")
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options,
                  "-w", "-t", "60", "start")
        self.psql(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'; CREATE DATABASE {DATABASE} OWNER {USER};",
                  database="postgres")

    def psql(self, sql: str, database: str = DATABASE) -> str:
        """Run SQL as the cluster's owner over the socket; returns psql's unaligned output."""
        return self._run(_bin("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", str(self.root),
                         "-p", str(self.port), "-U", "postgres", "-d", database, stdin=sql)

    def load_csv(self, table: str, columns: str, csv_path: Path) -> None:
        """Create ``table`` (``columns`` is its SQL column list) owned by the test user and COPY a CSV in."""
        readable = self.root / f"{table}.csv"
        shutil.copyfile(csv_path, readable)
        os.chmod(readable, 0o644)
        self.psql(f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} ({columns}); "
                  f"ALTER TABLE {table} OWNER TO {USER}; "
                  f"COPY {table} FROM '{readable}' WITH (FORMAT csv, HEADER true);")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
