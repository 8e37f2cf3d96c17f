"""Imports only go down the layers, and flow.metadata keys are spelled in one module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "ccproxy"

# package -> what it must never import (a layer above it, or the engine for the pure wire layer)
FORBIDDEN = {
    "lightllm": ("mitmproxy", "ccproxy.addons", "ccproxy.daemon", "ccproxy.providers", "ccproxy.pipeline"),
    "providers": ("ccproxy.addons", "ccproxy.daemon"),
    "pipeline": ("ccproxy.providers", "ccproxy.addons", "ccproxy.daemon"),
    "addons": ("ccproxy.daemon",),
    "flows": ("ccproxy.addons", "ccproxy.daemon"),
}


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
    return out


@pytest.mark.parametrize("package", list(FORBIDDEN))
def test_no_upward_imports(package: str) -> None:
    bad = [
        f"{path.relative_to(SRC)} imports {name}"
        for path in sorted((SRC / package).rglob("*.py"))
        for name in imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[package])
    ]
    assert not bad, "\n".join(bad)


def test_metadata_keys_live_in_flows_meta() -> None:
    packages = r"yaml\b|log\b|jail\b|daemon\b|lightllm\b|addons\b|flows\b|viewer\b"
    literal = re.compile(r"""["']ccproxy\.(?!""" + packages + r""")[a-z_]+["']""")
    bad = [
        f"{path.relative_to(SRC)}:{n}: {line.strip()}"
        for path in sorted(SRC.rglob("*.py"))
        if path != SRC / "flows" / "meta.py"
        and path != SRC / "telemetry" / "attributes.py"  # span attribute names, not metadata keys
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if literal.search(line) and "getLogger" not in line and "import" not in line
    ]
    assert not bad, "\n".join(bad)
