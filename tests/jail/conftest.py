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
import yaml

from tests.jail.support import MitmDaemon, TestCA, Upstream, make_ca, start_mitm, start_upstream

PINNED = "api.anthropic.com"
JAIL_TOOLS = ("unshare", "slirp4netns", "ip", "iptables", "ip6tables", "wg", "setpriv", "curl")


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


@dataclass
class JailEnv:
    root: Path  # world-traversable, so an unprivileged user can use it too
    config_dir: Path
    ca: TestCA
    upstream: Upstream
    daemon: MitmDaemon

    def cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "ccproxy.jail", "--config", str(self.config_dir), *args]

    def run(self, *cmd: str, timeout: float = 60, env: dict[str, str] | None = None,
            user: str | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
        argv = self.cli("run", "--", *cmd)
        if user:
            argv = ["runuser", "-u", user, "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env or self.env())

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
    config_dir.mkdir()
    ca = make_ca(root, [PINNED])
    upstream = start_upstream(ca)
    resolve = {PINNED: f"127.0.0.1:{upstream.port}"}
    daemon = start_mitm(config_dir, config_dir, resolve, ca.ca_pem)
    (config_dir / "ccproxy.yaml").write_text(
        yaml.safe_dump({"ccproxy": {"inspector": {"wireguard_port": daemon.wg_port, "resolve": resolve}}})
    )
    try:
        yield JailEnv(root, config_dir, ca, upstream, daemon)
    finally:
        daemon.stop()
        upstream.stop()
        shutil.rmtree(root, ignore_errors=True)
