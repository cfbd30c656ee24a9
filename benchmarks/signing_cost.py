"""What model signing costs: signing and verifying the coffee model's directory, and the signing set.

    PYTHONPATH=shared python benchmarks/signing_cost.py [--repeat 20]

Trains the coffee example's model once (scikit-learn + ONNX, as action-train logs it, without MLflow),
then times ``aicd.signing.sign_dir`` and ``verify_dir`` with a fresh EC P-256 key, and the first import
of ``model_signing`` (what a step pays once). Install size and time of requirements/signing.lock are
measured separately (a fresh venv with uv), see README "Model signing".
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def _coffee_dir(dest: Path) -> Path:
    """A model directory of the same shape and size as a registered coffee model."""
    import json

    import skops.io
    from sklearn.ensemble import RandomForestClassifier

    from aicd.examples.coffee import generate

    frame = generate()
    label = "clicked"
    x, y = frame.drop(columns=[label]).select_dtypes("number"), frame[label]
    model = RandomForestClassifier(n_estimators=100, random_state=0).fit(x, y)
    dest.mkdir(parents=True)
    (dest / "model.skops").write_bytes(skops.io.dumps(model))
    (dest / "aicd.json").write_text(json.dumps({"features": list(x.columns)}))
    (dest / "reference_profile.json").write_text("{}")
    (dest / "MLmodel").write_text("flavors: {}\n")
    return dest


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    started = time.perf_counter()
    import model_signing  # noqa: F401 - timed: the first import is what a step pays
    imported = time.perf_counter() - started
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from aicd.signing import load_private_key, sign_dir, verify_dir

    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with tempfile.TemporaryDirectory() as tmp:
        folder = _coffee_dir(Path(tmp) / "model")
        size = sum(p.stat().st_size for p in folder.iterdir())
        signing, verifying = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            sign_dir(folder, load_private_key(private))
            t1 = time.perf_counter()
            verify_dir(folder, public, "models:/coffee/1")
            signing.append(t1 - t0)
            verifying.append(time.perf_counter() - t1)
    print(f"model directory: {size / 1e6:.2f} MB; import model_signing {imported:.2f} s")
    print(f"sign   median {statistics.median(signing) * 1e3:.1f} ms, max {max(signing) * 1e3:.1f} ms")
    print(f"verify median {statistics.median(verifying) * 1e3:.1f} ms, max {max(verifying) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
