"""Runs the real daemon (`python -m ccproxy start`) as a subprocess for tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def udp_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_udp_port(consecutive: int = 1) -> int:
    """A UDP port on 127.0.0.1 with `consecutive - 1` free ports after it (the daemon's jail slots)."""
    for _ in range(50):
        port = free_port(socket.SOCK_DGRAM)
        if port + consecutive <= 65536 and all(udp_free(port + i) for i in range(1, consecutive)):
            return port
    raise RuntimeError(f"no {consecutive} consecutive free UDP ports")


def provider_entry(fake_hostport: str, wire: str, scheme: str = "http", **extra: Any) -> dict[str, Any]:
    return {"type": wire, "host": fake_hostport, "scheme": scheme, **extra}


class DaemonProcess:
    def __init__(
        self, config_dir: Path, config: dict[str, Any], env: dict[str, str] | None = None, wrap: list[str] | None = None
    ) -> None:
        self.config_dir = config_dir
        self.wrap = wrap or []  # a command the daemon runs under, e.g. ["prlimit", "--nofile=256:256"]
        section = config.setdefault("ccproxy", {})
        section.setdefault("port", free_port())
        inspector = section.setdefault("inspector", {})
        inspector.setdefault("wireguard_port", free_udp_port(inspector.get("wireguard_slots", 4)))
        # Every daemon's MCP server on its own port (the default 4030 would collide across tests).
        mcp = section.setdefault("mcp", {})
        if mcp.get("enabled", True):
            mcp.setdefault("port", free_port())
        self.port: int = section["port"]
        self.config = config
        config_dir.mkdir(parents=True, exist_ok=True)
        (config_dir / "ccproxy.yaml").write_text(yaml.safe_dump(config))
        self.env = {**os.environ, "CCPROXY_CONFIG_DIR": str(config_dir), **(env or {})}
        self.env.pop("LOG_LEVEL", None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_file = config_dir / "daemon.stderr"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state_dir(self) -> Path:
        raw = self.config["ccproxy"].get("state_dir")
        return Path(raw).expanduser() if raw else self.config_dir

    def token_headers(self) -> dict[str, str]:
        """The local token the daemon wrote at start (what the CLI sends to reveal or delete)."""
        try:
            token = (self.state_dir / "control.token").read_text().strip()
        except OSError:
            return {}
        return {"x-ccproxy-token": token}

    def cli(self, *args: str, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ccproxy", *args],
            env=self.env,
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
        )

    def start(self, timeout: float = 120.0) -> DaemonProcess:
        with self.log_file.open("ab") as err:
            self.proc = subprocess.Popen(
                [*self.wrap, sys.executable, "-m", "ccproxy", "start"],
                env=self.env,
                stdout=err,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}:\n{self.log_file.read_text()}")
            try:
                # With the token: a non-loopback bind requires it even for /health.
                health = httpx.get(self.url + "/health", timeout=0.5, trust_env=False, headers=self.token_headers())
                if health.status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"daemon not ready after {timeout}s:\n{self.log_file.read_text()}")

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def flows(self, **params: str) -> list[dict[str, Any]]:
        r = httpx.get(self.url + "/flows", params=params, timeout=10, trust_env=False, headers=self.token_headers())
        r.raise_for_status()
        result: list[dict[str, Any]] = r.json()
        return result

    def logs(self) -> str:
        return self.log_file.read_text()
