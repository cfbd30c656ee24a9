"""What signing the serving image costs: the SBOM, cosign sign + attest, and verify, against a real registry.

Starts a local distribution registry (Debian's docker-registry, on loopback), pushes the project's
Python base image (scripts/build-base-image) to it, and times what action-deploy does with
``cosign-key`` / ``cosign-public-key``: the CycloneDX SBOM from the image's own python3, ``cosign sign``
+ ``cosign attest --type cyclonedx`` by digest, and ``cosign verify`` (the check before a deploy). It
also shows that the image itself is unchanged: the same digest and size before and after, the
signature and attestation being registry artifacts of their own (``sha256-<digest>.sig`` / ``.att``).

    python benchmarks/image_signing.py [--repeat 3]

Needs a Docker engine (skipped in one line when none answers), /usr/bin/docker-registry
(scripts/install-test-packages) and cosign (scripts/install-cosign builds it).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "shared"))
sys.path.insert(0, str(ROOT))

from benchmarks.needs import docker_engine  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tool(script: str) -> str:
    done = subprocess.run([str(ROOT / "scripts" / script)], capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        sys.exit(f"error: scripts/{script} failed: {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout.strip()


def start_registry(folder: Path) -> tuple[subprocess.Popen, str]:
    if not Path("/usr/bin/docker-registry").is_file():
        sys.exit("error: /usr/bin/docker-registry is missing: run scripts/install-test-packages")
    port = free_port()
    config = folder / "registry.yml"
    config.write_text(json.dumps({"version": "0.1", "log": {"level": "error"},
                                  "storage": {"filesystem": {"rootdirectory": str(folder / "data")}},
                                  "http": {"addr": f"127.0.0.1:{port}"}}))
    proc = subprocess.Popen(["/usr/bin/docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
            return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    sys.exit("error: the local registry did not answer on its port")


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    client, why = docker_engine()
    if client is None:
        print(f"skipped: no Docker engine answers ({why})")
        return
    import docker

    from aicd.deploy.cosign import Cosign, image_sbom

    client = docker.from_env(timeout=300)  # a push takes longer than the probe's 5 s
    from aicd.deploy.signing import by_digest

    cosign, base = tool("install-cosign"), tool("build-base-image")
    with tempfile.TemporaryDirectory(prefix="aicd-bench-sign-") as tmp:
        folder = Path(tmp)
        proc, host = start_registry(folder)
        try:
            subprocess.run([cosign, "generate-key-pair"], cwd=folder, check=True, capture_output=True,
                           env={**os.environ, "COSIGN_PASSWORD": "bench"}, timeout=60)
            key, public = (folder / "cosign.key").read_text(), (folder / "cosign.pub").read_text()
            signer, rows = Cosign(cosign), []
            for n in range(args.repeat):
                local = f"{host}/bench:{n}"
                client.images.get(base).tag(local)
                client.images.push(local)
                digest = client.images.get_registry_data(local).id
                reference, size = by_digest(local, digest), client.images.get(local).attrs["Size"]
                sbom_path = folder / f"sbom-{n}.json"
                sbom_s = timed(lambda: sbom_path.write_text(json.dumps(image_sbom(client, reference, local))))  # noqa: B023
                sign_s = timed(lambda: signer.sign_and_attest(reference, key, "bench", sbom_path))  # noqa: B023
                verify_s = timed(lambda: signer.verify(reference, public))  # noqa: B023
                after = client.images.get_registry_data(local).id, client.images.get(local).attrs["Size"]
                rows.append((sbom_s, sign_s, verify_s, after == (digest, size), size))
            components = len(json.loads(sbom_path.read_text())["components"])
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    med = [statistics.median(r[i] for r in rows) for i in range(3)]
    print(f"image {base} ({rows[0][4] / 1e6:.1f} MB), {args.repeat} runs, medians:")
    print(f"  SBOM from the image's python3 ({components} packages)  {med[0]:6.2f} s")
    print(f"  cosign sign + attest (by digest)                {med[1]:6.2f} s")
    print(f"  cosign verify (before a deploy)                 {med[2]:6.2f} s")
    print(f"  image digest and size unchanged after signing:  {all(r[3] for r in rows)}")


if __name__ == "__main__":
    main()
