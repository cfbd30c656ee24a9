"""``python -m aicd.serve --model-dir DIR --sha256 HEX --port N``: run one model server in the foreground."""

from __future__ import annotations

import argparse
import sys

from ..errors import AicdError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aicd.serve", description=__doc__)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--sha256", required=True, help="the checksum recorded in the registry at training")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--variant", default="stable")
    parser.add_argument("--model-name", default="", help="shown in the aicd_model_info metric")
    parser.add_argument("--model-version", default="")
    parser.add_argument("--run-id", default="")
    args = parser.parse_args(argv)

    from .model import load_model_dir

    try:
        model = load_model_dir(args.model_dir, args.sha256)
        model.meta.update(model_name=args.model_name, model_version=args.model_version, run_id=args.run_id)
    except AicdError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    import uvicorn

    from .app import create_app

    uvicorn.run(create_app(model, args.variant), host=args.host, port=args.port, log_level="warning",
                timeout_graceful_shutdown=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
