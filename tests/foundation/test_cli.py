"""The CLI as a user meets it: one-line errors, exit codes, init, logs."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.support.daemon import DaemonProcess, free_port


def run_cli(tmp_path: Path, *args: str, config: dict | str | None = None) -> subprocess.CompletedProcess[str]:
    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir(exist_ok=True)
    if config is not None:
        text = config if isinstance(config, str) else yaml.safe_dump(config)
        (cfg_dir / "ccproxy.yaml").write_text(text)
    env = {"CCPROXY_CONFIG_DIR": str(cfg_dir), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "ccproxy", *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"ccproxy": {"prot": 4000}}, "ccproxy.prot: unknown key"),
        ({"ccproxy": {"port": "abc"}}, "ccproxy.port:"),
        (
            {"ccproxy": {"providers": {"anthropic": {"host": "h", "auth": {"type": "bogus"}}}}},
            "ccproxy.providers.anthropic.auth.type: invalid value 'bogus' (valid: 'command', 'file', 'anthropic_oauth'",
        ),
        (
            {"ccproxy": {"providers": {"x": {"host": "h", "type": "grpc"}}}},
            "ccproxy.providers.x.type: invalid value 'grpc'",
        ),
        ("ccproxy: [unclosed", "invalid YAML"),
        ({"ccproxy": {"lightllm": {"transforms": [{"dest_provider": "nope"}]}}}, "unknown provider 'nope'"),
    ],
)
def test_bad_config_is_one_line_error(tmp_path: Path, config: dict | str, message: str) -> None:
    r = run_cli(tmp_path, "start", config=config)
    assert r.returncode == 1
    assert message in r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_log_level_env_is_validated(tmp_path: Path) -> None:
    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir()
    r = subprocess.run(
        [sys.executable, "-m", "ccproxy", "status"],
        capture_output=True,
        text=True,
        env={"CCPROXY_CONFIG_DIR": str(cfg_dir), "LOG_LEVEL": "LOUD", "HOME": str(tmp_path)},
    )
    assert r.returncode == 1
    assert "LOG_LEVEL: invalid value 'LOUD'" in r.stderr


def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = run_cli(tmp_path, "start", config={"ccproxy": {"port": port, "inspector": {"wireguard": False}}})
    assert r.returncode == 1
    assert f"127.0.0.1:{port} is already in use" in r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_unwritable_config_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = {"CCPROXY_CONFIG_DIR": str(blocker / "sub"), "HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "ccproxy", "start"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert str(blocker / "sub") in r.stderr


def test_status_exit_codes_when_nothing_runs(tmp_path: Path) -> None:
    cfg = {"ccproxy": {"port": free_port()}}
    assert run_cli(tmp_path, "status", "--proxy", "--inspect", config=cfg).returncode == 3
    assert run_cli(tmp_path, "status", config=cfg).returncode == 1
    assert run_cli(tmp_path, "status", "--proxy", "--inspect", "--mcp", config=cfg).returncode == 7


def test_status_when_running(daemon: DaemonProcess) -> None:
    r = daemon.cli("status", "--json", "--proxy")
    assert r.returncode == 0, r.stderr
    assert '"proxy": true' in r.stdout


def test_init_writes_template_and_refuses_overwrite(tmp_path: Path) -> None:
    r = run_cli(tmp_path, "init")
    assert r.returncode == 0
    path = tmp_path / "cfg" / "ccproxy.yaml"
    assert path.exists()
    assert "sk-ant-oat-ccproxy-{name}" in path.read_text()
    again = run_cli(tmp_path, "init")
    assert again.returncode == 1
    assert "already exists" in again.stderr
    assert run_cli(tmp_path, "init", "--force").returncode == 0


def test_start_without_config_initialises_one(tmp_path: Path) -> None:
    cfg_dir = tmp_path / "fresh"
    env = {"CCPROXY_CONFIG_DIR": str(cfg_dir), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([sys.executable, "-m", "ccproxy", "start"], env=env, stderr=subprocess.PIPE, text=True)
    # The event that proves the point: the daemon logs that it listens (or it exits early).
    log = cfg_dir / "ccproxy.log"
    deadline = time.monotonic() + 120

    def listening() -> bool:
        return log.exists() and "listening on" in log.read_text(errors="replace")

    while proc.poll() is None and not listening() and time.monotonic() < deadline:
        time.sleep(0.05)
    if proc.poll() is None:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err  # SIGTERM is a clean shutdown
    else:
        _, err = proc.communicate()
        # The template's port 4000 may be taken on a developer machine; that must be the clean error.
        assert "4000 is already in use" in err
    assert (cfg_dir / "ccproxy.yaml").exists()
    assert (cfg_dir / "mitmproxy-ca-cert.pem").exists() or "already in use" in err


def test_logs_survive_restart(daemon: DaemonProcess) -> None:
    daemon.stop()
    daemon.start()
    r = daemon.cli("logs", "-n", "200")
    assert r.returncode == 0
    assert r.stdout.count("ccproxy listening on") >= 2
