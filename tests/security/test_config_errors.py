# ruff: noqa: E501  (tables of config and the exact one-line errors they get)
"""Config that must be refused with one line naming the key, the same way by every command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ccproxy.config.loader import ConfigError, load_config
from ccproxy.config.models import UNBUILT_FEATURES


def _write(tmp_path: Path, config: Any) -> Path:
    path = tmp_path / "ccproxy.yaml"
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    return path


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"CCPROXY_CONFIG_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "ccproxy", *args], env=env, capture_output=True, text=True, timeout=90)


def _provider(**kw: Any) -> dict[str, Any]:
    return {"ccproxy": {"providers": {"p": {"type": "anthropic", "host": "h", **kw}}}}


CASES = [
    (_provider(host="127.0.0.1:99999"), "ccproxy.providers.p.host: invalid port '99999' in '127.0.0.1:99999' (1-65535)"),
    (_provider(host="x:notaport:99999"), "ccproxy.providers.p.host: invalid address 'x:notaport:99999'"),
    (_provider(host="api.example.com:"), "ccproxy.providers.p.host: invalid port ''"),
    ({"ccproxy": {"lightllm": {"stream_idle_timeout": -5}}}, "ccproxy.lightllm.stream_idle_timeout: Input should be greater than 0"),
    ({"ccproxy": {"lightllm": {"stream_idle_timeout": 0}}}, "ccproxy.lightllm.stream_idle_timeout: Input should be greater than 0"),
    ({"ccproxy": {"inspector": {"resolve": {"h": "not an address:::"}}}}, "ccproxy.inspector.resolve.h: invalid address 'not an address:::'"),
    ({"ccproxy": {"inspector": {"resolve": {"h": "127.0.0.1:0"}}}}, "ccproxy.inspector.resolve.h: invalid port '0'"),
    ({"ccproxy": {"inspector": {"allow_origins": ["evil.example"]}}}, "ccproxy.inspector.allow_origins: invalid origin 'evil.example'"),
    (_provider(auth={"type": "command", "command": "x", "timeout": -1}), "ccproxy.providers.p.auth.timeout: Input should be greater than 0"),
    (_provider(auth={"type": "command"}), "ccproxy.providers.p.auth.command: required key is missing"),
    (_provider(auth={"type": "command", "command": 5}), "ccproxy.providers.p.auth.command: Input should be a valid string"),
    (_provider(auth={"type": "file"}), "ccproxy.providers.p.auth.file_path: required key is missing"),
    ({"ccproxy": {"hooks": {"inbound": [{"hook": "x", "parmas": {}}]}}}, "ccproxy.hooks.inbound[0].parmas: unknown key"),
    ({"ccproxy": {"hooks": {"outbound": ["a", {"hookx": "b"}]}}},
     "ccproxy.hooks.outbound[1].hook: required key is missing; ccproxy.hooks.outbound[1].hookx: unknown key"),
    ({"ccproxy": {"hooks": {"inbound": [123]}}}, "ccproxy.hooks.inbound[0]: Input should be a valid string (got 123)"),
    ({"ccproxy": {"lightllm": {"transforms": [{"match_path": "("}]}}}, "ccproxy.lightllm.transforms[0].match_path: invalid regex '('"),
    ({"ccproxy": {"inspector": {"transforms": [{"match_model": "[a-"}]}}}, "ccproxy.inspector.transforms[0].match_model: invalid regex '[a-'"),
]  # fmt: skip


@pytest.mark.parametrize(("config", "message"), CASES)
def test_refused_naming_the_key(tmp_path: Path, config: Any, message: str) -> None:
    path = _write(tmp_path, config)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    text = str(e.value)
    assert text.startswith(f"{path}: {message}"), text
    assert "\n" not in text
    key_path = text.removeprefix(f"{path}: ").split(":", 1)[0]
    for tag in (".str.", ".HookEntry", ".command.command", ".command.timeout", "function-"):
        assert tag not in key_path + ".", text  # no pydantic union/discriminator tags


@pytest.mark.parametrize("feature", sorted(UNBUILT_FEATURES))
def test_unbuilt_feature_enabled_is_an_error(tmp_path: Path, feature: str) -> None:
    path = _write(tmp_path, {"ccproxy": {feature: {"enabled": True}}})
    with pytest.raises(ConfigError, match=rf"ccproxy\.{feature}: not built yet \(.*\): remove the `{feature}` section"):
        load_config(path)
    # Turned off it is accepted; absent it is not enabled.
    _write(tmp_path, {"ccproxy": {feature: {"enabled": False}}})
    load_config(path)
    _write(tmp_path, {"ccproxy": {}})
    load_config(path)


def test_valid_addresses_are_accepted(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "ccproxy": {
                "providers": {
                    n: {"type": "openai", "host": h}
                    for n, h in {"a": "api.example.com", "b": "127.0.0.1:8080", "c": "[::1]:8443", "d": "::1"}.items()
                },
                "inspector": {"resolve": {"x.example": "127.0.0.1:1", "y.example": "[::1]"}},
            }
        },
    )
    providers = load_config(path).ccproxy.providers
    assert [(p.hostname, p.port) for p in providers.values()] == [
        ("api.example.com", 443),
        ("127.0.0.1", 8080),
        ("[::1]", 8443),
        ("::1", 443),
    ]


def test_non_utf8_config_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ccproxy.yaml"
    path.write_bytes(b"ccproxy:\n  host: caf\xe9\n")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(e.value) == f"{path}: not UTF-8 text (byte 0xe9 at offset 20)"


@pytest.mark.parametrize("command", [("status",), ("start",), ("flows", "list")])
def test_every_command_validates_like_start(tmp_path: Path, command: tuple[str, ...]) -> None:
    """`ccproxy status` used to accept an invalid regex that `start` refused."""
    _write(tmp_path, {"ccproxy": {"lightllm": {"transforms": [{"match_path": "(", "dest_provider": None}]}}})
    r = _cli(tmp_path, *command)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"ccproxy: error: {tmp_path / 'ccproxy.yaml'}: ccproxy.lightllm.transforms[0].match_path: "
        "invalid regex '(': missing ), unterminated subpattern at position 0"
    ]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("state_dir", "{tmp}/afile", "ccproxy.state_dir: cannot open log file {tmp}/afile/ccproxy.log: {tmp}/afile is not a directory"),
        ("log_file", "{tmp}/afile/x.log", "ccproxy.log_file: cannot open log file {tmp}/afile/x.log: {tmp}/afile is not a directory"),
        ("log_file", "{tmp}", "ccproxy.log_file: cannot open log file {tmp}: it is a directory (log_file names a file)"),
    ],
)  # fmt: skip
def test_state_dir_and_log_file_errors_name_the_key(tmp_path: Path, key: str, value: str, message: str) -> None:
    (tmp_path / "afile").write_text("")
    _write(tmp_path, {"ccproxy": {"port": 0, "inspector": {"wireguard": False}, key: value.format(tmp=tmp_path)}})
    r = _cli(tmp_path, "start")
    assert r.returncode == 1
    assert r.stderr.strip() == "ccproxy: error: " + message.format(tmp=tmp_path)


def test_state_dir_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    state = tmp_path / "afile" / "sub"
    _write(tmp_path, {"ccproxy": {"port": 0, "inspector": {"wireguard": False}, "state_dir": str(state),
                                  "log_file": str(tmp_path / "l.log")}})  # fmt: skip
    r = _cli(tmp_path, "start")
    assert r.returncode == 1
    assert (
        r.stderr.strip()
        == f"ccproxy: error: ccproxy.state_dir: cannot create {state}: {tmp_path / 'afile'} is not a directory"
    )
