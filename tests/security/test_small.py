"""Small CLI defects of issue 13: doubled prefixes, silent bad input, tracebacks, blame."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ccproxy.jail.doctor import checks_from_report
from tests.support.daemon import DaemonProcess


def _cli(tmp_path: Path, *args: str, path: str = "/usr/bin:/bin") -> subprocess.CompletedProcess[str]:
    env = {"CCPROXY_CONFIG_DIR": str(tmp_path), "PATH": path, "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "ccproxy", *args], env=env, capture_output=True, text=True, timeout=90)


def test_logs_negative_count_is_an_error(tmp_path: Path) -> None:
    r = _cli(tmp_path, "logs", "-n", "-1")
    assert r.returncode == 2
    assert r.stderr == "ccproxy: error: -n/--lines: must be 0 or more (got -1)\n"


def test_inspect_preflight_prefix_once(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    r = _cli(tmp_path, "run", "--inspect", "--", "true", path=str(empty))
    assert r.returncode == 1
    assert r.stderr.startswith("ccproxy run --inspect: missing tools on PATH: slirp4netns")
    assert r.stderr.count("ccproxy run --inspect") == 1


@pytest.mark.parametrize(
    ("jq", "message"),
    [
        ("[1,2]", "jq filter '[1,2]': must yield an array of flow objects; element 0 is a number"),
        ('map("x")', "jq filter 'map(\"x\")': must yield an array of flow objects; element 0 is a string"),
    ],
)
def test_dump_with_a_filter_yielding_non_flows(shared_daemon: DaemonProcess, jq: str, message: str) -> None:
    import httpx

    httpx.post(shared_daemon.url + "/v1/messages", json={"model": "m"}, trust_env=False)
    for command in ("dump", "list"):
        r = shared_daemon.cli("flows", command, "--jq", jq)
        assert r.returncode == 2, r.stderr
        assert r.stderr == f"ccproxy: error: {message}\n"


def test_doctor_does_not_blame_the_tunnel_for_an_unresolvable_probe_host() -> None:
    """The real probe, run where no name resolves (a fresh network namespace, nothing leaves it)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare not found (install the util-linux package)")
    cmd = [unshare, "--net", sys.executable, "-m", "ccproxy.jail.probe", "no-such-host.invalid", "1"]
    if subprocess.run([unshare, "--net", "true"], capture_output=True).returncode != 0:
        cmd[1:2] = ["--user", "--map-root-user", "--net"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        pytest.skip(f"cannot create a network namespace here: {r.stderr.strip()}")
    checks = {c.name: c for c in checks_from_report(json.loads(r.stdout.splitlines()[-1]), "no-such-host.invalid")}
    assert not checks["dns"].ok and "no-such-host.invalid does not resolve" in checks["dns"].fix
    for name in ("tunnel", "tls"):
        assert not checks[name].ok
        assert "not probed: no-such-host.invalid did not resolve" in checks[name].detail
        assert "WireGuard" not in checks[name].fix and "handshake" not in checks[name].fix
        assert "dns check first" in checks[name].fix


def test_doctor_names_a_name_that_does_not_exist() -> None:
    report = {
        "dns": {"ok": False, "unknown_name": True, "detail": "lookup of typo.example failed: [Errno -2]"},
        "tunnel": {"ok": False, "skipped": True, "detail": "not probed: typo.example did not resolve"},
    }  # fmt: skip
    dns, tunnel = checks_from_report(report, "typo.example")
    assert dns.fix.startswith("typo.example does not exist: pass --probe-host")
    assert "handshake" not in tunnel.fix


def test_ci_script_loosens_tun_only_in_ci() -> None:
    script = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
    [line] = [ln for ln in script.splitlines() if "chmod 666 /dev/net/tun" in ln]
    assert line.strip().startswith('[ "${CI:-}" = true ] &&')
