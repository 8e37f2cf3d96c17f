"""flake.nix's outputs and flake.lock's pins, checked without fetching anything."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from typing import Any

import pytest

from tests.nix.nixeval import REPO, evaluate, nixpkgs_lib_dir, require_lib

# The flake's outputs function with stand-in inputs: nixpkgs' lib is the real one;
# anything that would need nixpkgs' packages throws if forced (names stay lazy).
OUTPUTS = """
let
  missing = what: throw "${what} needs the real input";
  inputs = {
    nixpkgs = { lib = lib // { nixosSystem = _: missing "nixosSystem"; }; legacyPackages = missing "legacyPackages"; };
    nixpkgs-lib = { inherit lib; };
    home-manager = missing "home-manager";
    nixos-wsl = missing "nixos-wsl";
    pyproject-nix = missing "pyproject-nix";
    uv2nix = missing "uv2nix";
    pyproject-build-systems = missing "pyproject-build-systems";
  };
  outputs = (import ./flake.nix).outputs (inputs // { self = outputs; });
in
"""


def flake_eval(body: str) -> Any:
    return evaluate(OUTPUTS + body)


def test_flake_has_the_documented_outputs() -> None:
    got = flake_eval("""{
      top = builtins.attrNames outputs;
      packages = builtins.mapAttrs (_: builtins.attrNames) outputs.packages;
      apps = builtins.mapAttrs (_: builtins.attrNames) outputs.apps;
      devShells = builtins.mapAttrs (_: builtins.attrNames) outputs.devShells;
      checks = builtins.mapAttrs (_: builtins.attrNames) outputs.checks;
      formatter = builtins.attrNames outputs.formatter;
      homeModules = builtins.attrNames outputs.homeModules;
      homeManagerModules = builtins.attrNames outputs.homeManagerModules;
      nixosModules = builtins.attrNames outputs.nixosModules;
      nixosConfigurations = builtins.attrNames outputs.nixosConfigurations;
      modulesAreFunctions = builtins.all builtins.isFunction
        [ outputs.homeModules.ccproxy outputs.nixosModules.ccproxy ];
    }""")
    assert {"packages", "apps", "devShells", "homeModules", "homeManagerModules", "nixosModules",
            "nixosConfigurations", "checks", "formatter", "overlays", "lib"} <= set(got["top"])  # fmt: skip
    assert got["packages"]["x86_64-linux"] == ["ccproxy", "default", "wsl"]
    assert got["packages"]["aarch64-darwin"] == ["ccproxy", "default"]  # no jail, no WSL image on macOS
    assert all(v == ["default"] for v in got["apps"].values()) and all(
        v == ["default"] for v in got["devShells"].values()
    )
    assert got["checks"]["x86_64-linux"] == ["package", "pytest", "vm-home-manager", "vm-jail", "vm-nixos-module"]
    assert "x86_64-darwin" in got["formatter"]
    assert got["homeModules"] == got["homeManagerModules"] == ["ccproxy", "default"]
    assert got["nixosModules"] == ["ccproxy", "default"]
    assert got["nixosConfigurations"] == ["ccproxy-wsl"]
    assert got["modulesAreFunctions"] is True


def test_flake_render_config_needs_only_nixpkgs_lib() -> None:
    text = flake_eval("outputs.lib.renderConfig { port = 4111; }")
    assert json.loads(text) == {"ccproxy": {"port": 4111}}


LOCK = json.loads((REPO / "flake.lock").read_text())


def test_lock_pins_every_input_of_flake_nix() -> None:
    urls = evaluate("builtins.mapAttrs (_: i: i.url) (import ./flake.nix).inputs")
    assert sorted(LOCK["nodes"]["root"]["inputs"]) == sorted(urls)
    for name, url in urls.items():
        original = LOCK["nodes"][LOCK["nodes"]["root"]["inputs"][name]]["original"]
        ref = f"/{original['ref']}" if "ref" in original else ""
        assert url == f"github:{original['owner']}/{original['repo']}{ref}", name  # else Nix would re-lock
    follows = evaluate("""builtins.mapAttrs (_: i: builtins.mapAttrs (_: f: f.follows) (i.inputs or { }))
      (import ./flake.nix).inputs""")
    for name, node_name in LOCK["nodes"]["root"]["inputs"].items():
        node = LOCK["nodes"][node_name]
        for dep, target in follows[name].items():
            assert node["inputs"][dep] == [target], f"{name}.inputs.{dep}"


@pytest.mark.parametrize("name", sorted(n for n in LOCK["nodes"] if n != "root"))
def test_lock_nodes_are_complete_github_pins(name: str) -> None:
    node = LOCK["nodes"][name]
    locked, original = node["locked"], node["original"]
    assert locked["type"] == original["type"] == "github"
    assert (locked["owner"], locked["repo"]) == (original["owner"], original["repo"])
    assert re.fullmatch(r"[0-9a-f]{40}", locked["rev"])
    assert re.fullmatch(r"sha256-[A-Za-z0-9+/]{43}=", locked["narHash"])
    for target in node.get("inputs", {}).values():
        assert (target if isinstance(target, str) else target[0]) in LOCK["nodes"]


def test_nixpkgs_lib_pin_is_the_hash_of_the_shared_copy() -> None:
    """The one pin this machine can recompute: the NAR hash of the copy of nixpkgs.lib beside the checkout."""
    require_lib()
    if os.environ.get("CCPROXY_NIXPKGS_LIB"):
        pytest.skip("CCPROXY_NIXPKGS_LIB points at another nixpkgs lib than the pinned shared copy")
    nix = shutil.which("nix")
    if nix is None:
        pytest.skip("nix not found (install package nix-bin)")
    r = subprocess.run(
        [nix, "--extra-experimental-features", "nix-command", "hash", "path", str(nixpkgs_lib_dir())],
        capture_output=True,
        text=True,
        check=True,
    )
    node = LOCK["nodes"]["nixpkgs-lib"]["locked"]
    assert (node["owner"], node["repo"]) == ("nix-community", "nixpkgs.lib")
    assert r.stdout.strip() == node["narHash"]
