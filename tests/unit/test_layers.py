"""Layer rules: stage logic is pure — it never imports the runner I/O module or an adapter."""

import ast
from pathlib import Path

import pytest

import aicd

PACKAGE = Path(aicd.__file__).parent
PURE = ["data", "model", "monitor/decide.py", "monitor/stats.py", "monitor/metrics.py", "monitor/alerts.py",
        "monitor/promql.py", "config.py", "config_monitor.py"]
FORBIDDEN = {"aicd.gha", "aicd.registry", "aicd.deploy", "aicd.steps", "aicd.serve", "aicd.github", "mlflow", "urllib",
             "subprocess"}


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # resolve relative imports against the file's package
                parts = path.relative_to(PACKAGE.parent).with_suffix("").parts[: -node.level]
                base = ".".join([*parts, base]) if base else ".".join(parts)
            found.add(base)
    return found


@pytest.mark.parametrize("part", PURE)
def test_pure_modules_do_not_import_io(part):
    files = [PACKAGE / part] if part.endswith(".py") else sorted((PACKAGE / part).rglob("*.py"))
    for path in files:
        bad = {m for m in imports_of(path) if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)}
        assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}"


def test_public_surface_is_pinned():
    assert aicd.__all__ == ["__version__"]
