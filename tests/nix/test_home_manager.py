"""modules/home-manager.nix evaluated inside the real Home Manager module system (nix/eval/with-home-manager.nix).

Needs a Home Manager source tree, e.g. the flake.lock pin unpacked:
CCPROXY_HOME_MANAGER=/path/to/home-manager. CI has none, so there it skips.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

import pytest

from ccproxy.config import load_config
from tests.nix.nixeval import EVAL, evaluate, nix_string, require_lib

FAKE_PKG = "/nix/store/00000000000000000000000000000000-ccproxy"


def with_home_manager(tmp_path: Path, config: dict[str, Any]) -> Any:
    raw = os.environ.get("CCPROXY_HOME_MANAGER")
    if not raw or not (Path(raw) / "modules" / "modules.nix").is_file():
        pytest.skip("set CCPROXY_HOME_MANAGER to a Home Manager source tree (e.g. the flake.lock pin)")
    pkgs_path = tmp_path / "pkgs-path"
    pkgs_path.mkdir()
    (pkgs_path / "lib").symlink_to(require_lib())
    (pkgs_path / "nixos").symlink_to(EVAL / "nixpkgs-stub" / "nixos")
    return evaluate(
        f"import {EVAL}/with-home-manager.nix {{ inherit lib; homeManager = {raw}; pkgsPath = {pkgs_path};"
        f" config = {nix_string(config)}; }}"
    )


def test_user_service_and_config_file_in_real_home_manager(tmp_path: Path) -> None:
    settings = {
        "port": 4100,
        "providers": {"a": {"host": "api.anthropic.com", "auth": {"type": "file", "file_path": "/k"}}},
    }
    service = {"enable": True, "settings": settings, "environmentFile": "/run/user/1000/ccproxy.env"}
    got = with_home_manager(tmp_path, {"services": {"ccproxy": service}})
    assert got["failedAssertions"] == []
    [exec_start] = got["unit"]["Service"]["ExecStart"]  # Home Manager's unit type makes it a list
    assert shlex.split(exec_start) == [
        f"{FAKE_PKG}/bin/ccproxy", "--config", "/home/alice/.config/ccproxy/ccproxy.yaml", "start"
    ]  # fmt: skip
    assert got["unit"]["Service"]["EnvironmentFile"] == "/run/user/1000/ccproxy.env"
    assert len(got["unit"]["Unit"]["X-Restart-Triggers"]) == 1
    assert got["target"] == ".config/ccproxy/ccproxy.yaml"
    path = tmp_path / "ccproxy.yaml"
    path.write_text(got["text"])
    config = load_config(path).ccproxy
    assert config.port == 4100 and json.loads(got["text"])["ccproxy"]["providers"]["a"]["auth"]["type"] == "file"
