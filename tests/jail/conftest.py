"""Fixtures for the jail: a loopback TLS upstream, a mitmproxy WireGuard listener, a config dir."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ccproxy.jail.slots import DEFAULT_SLOTS
from tests.jail.support import TestCA, Upstream, make_ca, start_upstream
from tests.support.daemon import DaemonProcess, free_udp_port

PINNED = "api.anthropic.com"
JAIL_TOOLS = ("unshare", "slirp4netns", "ip", "iptables", "ip6tables", "iptables-restore", "wg", "setpriv")


def jail_unavailable() -> str | None:
    """The reason the jail cannot run here, naming what is missing; None when it can."""
    if not sys.platform.startswith("linux"):
        return f"the jail needs Linux (platform {sys.platform})"
    missing = [t for t in JAIL_TOOLS if shutil.which(t) is None]
    if not Path("/sys/module/wireguard").exists() and shutil.which("wireguard-go") is None:
        missing.append("wireguard-go (no kernel WireGuard)")
    if missing:
        return "missing tools: " + ", ".join(missing)
    if not Path("/sys/module/wireguard").exists() and not os.access("/dev/net/tun", os.R_OK | os.W_OK):
        return "/dev/net/tun is not accessible (chmod 666 /dev/net/tun)"
    r = subprocess.run(["unshare", "--user", "--map-root-user", "--net", "true"], capture_output=True)
    if r.returncode != 0:
        return f"unprivileged user namespaces are blocked: {r.stderr.decode().strip()}"
    return None


requires_jail = pytest.mark.skipif(bool(reason := jail_unavailable()), reason=reason or "")
requires_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl not on PATH")


@dataclass
class JailEnv:
    root: Path  # world-traversable, so an unprivileged user can use it too
    config_dir: Path
    ca: TestCA
    upstream: Upstream
    daemon: DaemonProcess

    def cli(self, *args: str, config_dir: Path | None = None) -> list[str]:
        return [sys.executable, "-m", "ccproxy", "--config", str(config_dir or self.config_dir), *args]

    def run(
        self, *cmd: str, timeout: float = 60, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        argv = self.cli("run", "--inspect", "--", *cmd)
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env or self.env())

    def flows(self) -> list[dict]:
        return self.daemon.flows(bodies="1")

    def env(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        base["HOME"] = str(self.root)
        base.update(extra)
        return base


@pytest.fixture(scope="module")
def jail_env() -> Iterator[JailEnv]:
    if reason := jail_unavailable():
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="ccproxy-jail-test-"))
    root.chmod(0o755)
    config_dir = root / "config"
    ca = make_ca(root, [PINNED])
    upstream = start_upstream(ca)
    inspector = {
        "resolve": {PINNED: f"127.0.0.1:{upstream.port}"},
        # The fake upstream's certificate comes from a throwaway CA: trusted through upstream_ca,
        # so verification stays on.
        "upstream_ca": str(ca.ca_pem),
        "keylog": True,
        "wireguard_port": free_udp_port(DEFAULT_SLOTS),
    }
    daemon = DaemonProcess(config_dir, {"ccproxy": {"inspector": inspector}})
    daemon.start()
    try:
        yield JailEnv(root, config_dir, ca, upstream, daemon)
    finally:
        daemon.stop()
        upstream.stop()
        shutil.rmtree(root, ignore_errors=True)
