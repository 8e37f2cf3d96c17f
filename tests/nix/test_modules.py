"""The Home-Manager and NixOS modules, evaluated for real with nixpkgs' lib (nix/eval stubs the host options)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ccproxy.config import load_config
from tests.nix.nixeval import REPO, NixError, eval_modules, evaluate, require_nix

FAKE_PKG = "/nix/store/00000000000000000000000000000000-ccproxy"
HOME = "/home/alice"


def hm(settings: dict[str, Any] | None = None, **service: Any) -> dict[str, Any]:
    return {"services": {"ccproxy": {"enable": True, "settings": settings or {}, **service}}}


def rendered(result: dict[str, Any]) -> str:
    [entry] = result["configFile"].values()
    return str(entry["text"])


def load_rendered(text: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "ccproxy.yaml"
    path.write_text(text)
    return load_config(path).ccproxy


def test_every_nix_file_parses() -> None:
    exe = require_nix()
    files = sorted(p for p in REPO.rglob("*.nix") if ".venv" not in p.parts)
    assert REPO / "flake.nix" in files and REPO / "modules" / "home-manager.nix" in files
    for path in files:
        r = subprocess.run([exe, "--parse", str(path)], capture_output=True, text=True)
        assert r.returncode == 0, f"{path.relative_to(REPO)}: {r.stderr}"


def test_user_service_runs_ccproxy_start_with_the_managed_config() -> None:
    result = eval_modules(hm(extraArgs=["--some flag"]), "hm")
    service = result["unit"]["Service"]
    config = f"{HOME}/.config/ccproxy/ccproxy.yaml"
    assert shlex.split(service["ExecStart"]) == [f"{FAKE_PKG}/bin/ccproxy", "--config", config, "start", "--some flag"]
    assert service["Restart"] == "on-failure"
    assert service["Environment"] == [f"CCPROXY_CONFIG_DIR={HOME}/.config/ccproxy"]
    assert "EnvironmentFile" not in service
    assert result["unit"]["Install"]["WantedBy"] == ["default.target"]
    assert list(result["configFile"]) == ["ccproxy/ccproxy.yaml"]
    assert result["sessionVariables"] == {}  # the default directory is found without it
    assert result["packages"] == ["ccproxy"]
    assert result["failedAssertions"] == []


def test_disabled_module_defines_nothing() -> None:
    result = eval_modules({"services": {"ccproxy": {"enable": False}}}, "hm")
    assert result["unit"] is None and result["configFile"] == {} and result["packages"] == []


def test_config_change_changes_the_restart_trigger() -> None:
    a = eval_modules(hm({"port": 4000}), "hm.unit.Unit")["X-Restart-Triggers"]
    b = eval_modules(hm({"port": 4001}), "hm.unit.Unit")["X-Restart-Triggers"]
    assert a != b and len(a) == len(b) == 1


def test_environment_file_is_referenced_not_read() -> None:
    service = eval_modules(hm(environmentFile="/run/secrets/ccproxy.env"), "hm.unit.Service")
    assert service["EnvironmentFile"] == "/run/secrets/ccproxy.env"


def test_config_dir_elsewhere_in_home_uses_home_file() -> None:
    result = eval_modules(hm(configDir=f"{HOME}/ccproxy-state"), "hm")
    assert list(result["configFile"]) == ["ccproxy-state/ccproxy.yaml"]
    assert result["sessionVariables"] == {"CCPROXY_CONFIG_DIR": f"{HOME}/ccproxy-state"}
    assert f"--config {HOME}/ccproxy-state/ccproxy.yaml start" in result["unit"]["Service"]["ExecStart"]
    outside = eval_modules(hm(configDir="/srv/ccproxy"), "hm.failedAssertions")
    assert outside == [f"services.ccproxy.configDir: /srv/ccproxy is not inside the home directory {HOME}"]


FULL_SETTINGS: dict[str, Any] = {
    "port": 4100,
    "log_level": "DEBUG",
    "providers": {
        "anthropic": {
            "host": "api.anthropic.com",
            "auth": {"type": "command", "command": "cat /run/secrets/anthropic", "timeout": 5},
        },
        "local": {
            "type": "openai",
            "host": "127.0.0.1:8080",
            "scheme": "http",
            "auth": {"type": "file", "file_path": "/run/k"},
        },
        "gemini": {"type": "gemini", "host": "generativelanguage.googleapis.com", "auth": {"type": "google_oauth"}},
    },
    "hooks": {
        "inbound": ["ccproxy.hooks.inject_auth", {"hook": "ccproxy.hooks.extract_session_id", "params": {"x": 1}}]
    },
    "lightllm": {"transforms": [{"match_model": "gpt-.*", "action": "transform", "dest_provider": "anthropic"}]},
    "flows": {"max_flows": 100, "persist": False},
    "inspector": {"resolve": {"api.anthropic.com": "127.0.0.1:8443"}, "wireguard_slots": 2},
    # Not typed by the module: freeform, passed through.
    "otel": {"enabled": True, "service_name": "nix-test"},
}


def test_rendered_yaml_loads_with_ccproxys_loader(tmp_path: Path) -> None:
    text = rendered(eval_modules(hm(FULL_SETTINGS), "hm"))
    assert yaml.safe_load(text) == json.loads(text)  # JSON text is YAML
    c = load_rendered(text, tmp_path)
    assert (c.port, c.log_level) == (4100, "DEBUG")
    anthropic = c.providers["anthropic"]
    assert anthropic.auth is not None and anthropic.auth.type == "command"
    assert (anthropic.auth.command, anthropic.auth.timeout) == ("cat /run/secrets/anthropic", 5)
    assert (c.providers["local"].hostname, c.providers["local"].port, c.providers["local"].scheme) == (
        "127.0.0.1",
        8080,
        "http",
    )
    gemini_auth = c.providers["gemini"].auth
    assert gemini_auth is not None and gemini_auth.type == "google_oauth"
    assert gemini_auth.file_path == "~/.gemini/oauth_creds.json"  # unset fields keep ccproxy's defaults
    assert c.hooks.inbound[0] == "ccproxy.hooks.inject_auth"
    entry = c.hooks.inbound[1]
    assert not isinstance(entry, str) and (entry.hook, entry.params, entry.enabled) == (
        "ccproxy.hooks.extract_session_id",
        {"x": 1},
        True,
    )
    from ccproxy.config.models import Hooks

    assert list(c.hooks.outbound) == Hooks().outbound  # unset: ccproxy's own default
    [rule] = c.lightllm.transforms
    assert (rule.match_model, rule.action, rule.dest_provider, rule.match_path) == (
        "gpt-.*",
        "transform",
        "anthropic",
        ".*",
    )
    assert (c.flows.max_flows, c.flows.persist) == (100, False)
    assert c.inspector.resolve == {"api.anthropic.com": "127.0.0.1:8443"}
    assert c.inspector.wireguard_slots == 2
    assert (c.otel.enabled, c.otel.service_name) == (True, "nix-test")


def test_unset_providers_keep_the_builtin_ones(tmp_path: Path) -> None:
    text = rendered(eval_modules(hm(), "hm"))
    assert "providers" not in json.loads(text)["ccproxy"]
    assert set(load_rendered(text, tmp_path).providers) == {"anthropic", "openai", "openai_responses", "gemini"}


def test_render_config_alone_needs_only_lib(tmp_path: Path) -> None:
    text = evaluate(
        "import ./nix/render-config.nix"
        " { inherit lib; settings = { port = 4321; inspector.keylog = true; x = null; }; }"
    )
    assert json.loads(text) == {"ccproxy": {"port": 4321, "inspector": {"keylog": True}}}
    assert load_rendered(text, tmp_path).port == 4321


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"port": 70000}, "services.ccproxy.settings.port"),
        ({"log_level": "LOUD"}, "services.ccproxy.settings.log_level"),
        (
            {"providers": {"a": {"host": "h", "auth": {"type": "oauth"}}}},
            "services.ccproxy.settings.providers.a.auth.type",
        ),
        ({"providers": {"a": {"host": "h", "type": "grpc"}}}, "services.ccproxy.settings.providers.a.type"),
        ({"providers": {"a": {"type": "openai"}}}, "services.ccproxy.settings.providers.a.host"),
        ({"hooks": {"inbound": [42]}}, "services.ccproxy.settings.hooks.inbound"),
        ({"inspector": {"wireguard_slots": 0}}, "services.ccproxy.settings.inspector.wireguard_slots"),
        ({"lightllm": {"transforms": [{"action": "teleport"}]}}, "action"),
        ({"flows": {"max_flows": 0}}, "services.ccproxy.settings.flows.max_flows"),
    ],
)
def test_bad_values_are_rejected_by_the_option_types(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(NixError) as e:
        eval_modules(hm(settings), "hm.configFile")
    assert message in str(e.value)


@pytest.mark.parametrize(
    ("auth", "messages"),
    [
        (
            {"type": "command", "command": "true", "file_path": "/x"},
            ['providers.p.auth.file_path: not a field of auth type "command" (valid: command, timeout)'],
        ),
        ({"type": "file"}, ['providers.p.auth.file_path: required for auth type "file"']),
        (
            {"type": "command", "command": "true", "token": "sk-x"},
            ['providers.p.auth.token: not a field of auth type "command"'],
        ),
        ({"type": "codex_oauth", "account_header": "x"}, []),
    ],
)
def test_auth_fields_must_fit_their_type(auth: dict[str, Any], messages: list[str]) -> None:
    failed = eval_modules(hm({"providers": {"p": {"host": "h", "auth": auth}}}), "hm.failedAssertions")
    assert len(failed) == len(messages)
    for got, want in zip(failed, messages, strict=True):
        assert got.startswith("services.ccproxy.settings.") and want in got


def nixos(**programs: Any) -> dict[str, Any]:
    return {"programs": {"ccproxy": {"enable": True, **programs}}}


def test_nixos_module_installs_tools_and_enables_userns() -> None:
    result = eval_modules(nixos(), "nixos")
    assert set(result["packages"]) == {
        "ccproxy", "slirp4netns", "wireguard-tools", "wireguard-go", "iproute2", "iptables", "util-linux", "procps"
    }  # fmt: skip
    assert result["sysctl"] == {"-kernel.unprivileged_userns_clone": 1}
    assert result["kernelModules"] == ["tun"]
    assert result["service"] is None and result["variables"] == {}
    with_apparmor = eval_modules({**nixos(), "security": {"apparmor": {"enable": True}}}, "nixos.sysctl")
    assert with_apparmor["kernel.apparmor_restrict_unprivileged_userns"] == 0


def test_nixos_system_service_runs_as_the_named_user(tmp_path: Path) -> None:
    result = eval_modules(nixos(service={"enable": True, "user": "alice", "settings": {"port": 4200}}), "nixos")
    service = result["service"]
    assert service["serviceConfig"]["User"] == "alice"
    assert shlex.split(service["serviceConfig"]["ExecStart"]) == [
        f"{FAKE_PKG}/bin/ccproxy", "--config", "/var/lib/ccproxy/ccproxy.yaml", "start"
    ]  # fmt: skip
    assert service["serviceConfig"]["Restart"] == "on-failure"
    assert result["variables"] == {"CCPROXY_CONFIG_DIR": "/var/lib/ccproxy"}
    assert load_rendered(result["yaml"], tmp_path).port == 4200
    assert eval_modules(nixos(service={"enable": True}), "nixos.failedAssertions") == [
        "programs.ccproxy.service.user: must name the user the daemon runs as"
    ]


def run_check(build_command: str, text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run the config check the way the store build does, with this checkout's ccproxy and a real file."""
    raw = tmp_path / "ccproxy.yaml"
    raw.write_text(text)
    [check_line] = [line.strip() for line in build_command.splitlines() if "status --mermaid" in line]
    argv = shlex.split(check_line.removesuffix("> /dev/null"))
    assert argv[0] == f"{FAKE_PKG}/bin/ccproxy" and argv[1] == "--config" and argv[3:] == ["status", "--mermaid"]
    return subprocess.run(
        [sys.executable, "-m", "ccproxy", "--config", str(raw), *argv[3:]], capture_output=True, text=True, timeout=60
    )


def test_config_check_accepts_the_rendered_file(tmp_path: Path) -> None:
    # extract_session_id takes no params (the check would say so), so this entry has none.
    hooks = {"inbound": ["ccproxy.hooks.inject_auth", {"hook": "ccproxy.hooks.extract_session_id"}]}
    [entry] = eval_modules(hm({**FULL_SETTINGS, "hooks": hooks}), "hm.configFile").values()
    r = run_check(entry["check"], entry["text"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "stateDiagram-v2" in r.stdout


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"otel": {"enabeld": True}}, "ccproxy.otel.enabeld: unknown key"),  # freeform keys are checked here
        ({"hooks": {"inbound": ["ccproxy.hooks.no_such_hook"]}}, "no_such_hook"),
        ({"hooks": {"inbound": [{"hook": "ccproxy.hooks.extract_session_id", "params": {"x": 1}}]}}, "takes no params"),
    ],
)
def test_config_check_rejects_what_ccproxy_rejects(settings: dict[str, Any], error: str, tmp_path: Path) -> None:
    [entry] = eval_modules(hm(settings), "hm.configFile").values()
    r = run_check(entry["check"], entry["text"], tmp_path)
    assert r.returncode == 1 and error in r.stderr and "Traceback" not in r.stderr


def test_config_check_can_be_turned_off() -> None:
    [entry] = eval_modules(hm(checkConfig=False), "hm.configFile").values()
    assert entry["check"] is None and json.loads(entry["text"])["ccproxy"]["port"] == 4000


def test_the_documented_settings_example_loads(tmp_path: Path) -> None:
    [option] = [o for o in eval_modules({}, "hmOptions") if o["name"] == "services.ccproxy.settings"]
    example = option["example"]["text"]
    [entry] = eval_modules(
        f"{{ services.ccproxy = {{ enable = true; settings = {example}; }}; }}", "hm.configFile"
    ).values()
    c = load_rendered(entry["text"], tmp_path)
    auth = c.providers["anthropic"].auth
    assert auth is not None and auth.type == "command"
    assert c.inspector.resolve == {"api.anthropic.com": "127.0.0.1:8443"}
