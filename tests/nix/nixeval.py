"""Evaluate the project's Nix files with nix-instantiate and nixpkgs' lib alone.

The lib is the copy at ../shared/nix/nixpkgs-lib beside the checkout (CI puts
shared/ there); $CCPROXY_NIXPKGS_LIB may point at another nixpkgs or
nixpkgs.lib tree. Tests skip, naming what is missing, where either is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
EVAL = REPO / "nix" / "eval"


def nixpkgs_lib_dir() -> Path:
    raw = os.environ.get("CCPROXY_NIXPKGS_LIB")
    return Path(raw) if raw else REPO.parent / "shared" / "nix" / "nixpkgs-lib"


def require_nix() -> str:
    exe = shutil.which("nix-instantiate")
    if exe is None:
        pytest.skip("nix-instantiate not found (install package nix-bin, or Nix)")
    return exe


def require_lib() -> Path:
    lib = nixpkgs_lib_dir() / "lib"
    if not (lib / "default.nix").is_file():
        pytest.skip(f"nixpkgs lib not found at {lib} (set CCPROXY_NIXPKGS_LIB to a nixpkgs or nixpkgs.lib tree)")
    return lib


def nix_string(value: Any) -> str:
    """A JSON-shaped Python value as a Nix expression (via builtins.fromJSON, so quoting is exact)."""
    return f"(builtins.fromJSON {json.dumps(json.dumps(value))})"


class NixError(Exception):
    pass


def evaluate(expr: str) -> Any:
    """`nix-instantiate --eval --strict --json` of expr, in which `lib` is nixpkgs' lib."""
    exe = require_nix()
    lib = require_lib()
    full = f"let lib = import {lib}; in {expr}"
    r = subprocess.run(
        [exe, "--eval", "--strict", "--json", "-E", full],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    if r.returncode != 0:
        raise NixError(r.stderr.strip())
    return json.loads(r.stdout)


def eval_modules(config: dict[str, Any] | str, attr: str, home: str = "/home/alice") -> Any:
    """nix/eval's `attr` (e.g. "hm.unit") with `config` (JSON-shaped dict, or Nix text) as the user's module."""
    cfg = config if isinstance(config, str) else nix_string(config)
    return evaluate(f"(import {EVAL} {{ inherit lib; config = {cfg}; home = {json.dumps(home)}; }}).{attr}")
