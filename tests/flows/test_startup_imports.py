"""The client commands load only what they use: `ccproxy flows list` (daemon up or down) and
`ccproxy run -- CMD` import neither mitmproxy, httpx, lightllm, fastmcp, libjq nor rich's
console. (Each validates the whole config like `start`, with pydantic, unless the validated-config
cache answers: tests/flows/test_cli_cache.py.)

Checked by event, not by time: the real CLI runs in a subprocess and reports `sys.modules` at
exit. A `--jq` filter must load libjq (which shows that the check sees what a command loads).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from storekit import quick_flow

from ccproxy.flows.store import DB_FILE, FlowStore

HEAVY = ("mitmproxy", "httpx", "ccproxy.lightllm", "fastmcp", "jq", "rich.console")

# Runs the CLI and writes the names of the loaded modules to argv[1] at exit.
_PROBE = """
import atexit, json, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv[0] = "ccproxy"
from ccproxy.cli.main import main
main()
"""


def _cli(tmp: Path, config_dir: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    out = tmp / "modules.json"
    env = {"PATH": "/usr/bin:/bin", "CCPROXY_CONFIG_DIR": str(config_dir), "HOME": str(tmp), "COLUMNS": "200"}
    r = subprocess.run(
        [sys.executable, "-c", _PROBE, str(out), *args], env=env, capture_output=True, text=True, timeout=120
    )
    return r, set(json.loads(out.read_text()))


def _loaded(modules: set[str]) -> list[str]:
    return sorted(name for name in HEAVY if any(m == name or m.startswith(name + ".") for m in modules))


@pytest.fixture
def stored(tmp_path: Path) -> Iterator[tuple[Path, FlowStore]]:
    """A config dir whose flows.db holds one flow with a distinctive path."""
    store = FlowStore(tmp_path / DB_FILE, max_flows=10, max_bytes=10**8)
    store.open()
    assert store.complete(quick_flow("/v1/messages/lazy-probe", host="api.anthropic.com")).result(30)
    yield tmp_path, store
    store.close()


class _FakeDaemon(BaseHTTPRequestHandler):
    """/health and /flows; the page is the real store's own JSON."""

    page = "[]"

    def log_message(self, *a: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = (self.page if self.path.startswith("/flows") else '{"status": "ok"}').encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def daemon_port(stored: tuple[Path, FlowStore]) -> Iterator[int]:
    config_dir, store = stored
    handler = type("Handler", (_FakeDaemon,), {"page": store.json_page().text})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = int(server.server_address[1])
    (config_dir / "ccproxy.yaml").write_text(f"ccproxy:\n  port: {port}\n")
    yield port
    server.shutdown()
    server.server_close()


def test_flows_list_offline_reads_the_database_without_heavy_imports(stored: tuple[Path, FlowStore]) -> None:
    config_dir, _ = stored
    (config_dir / "ccproxy.yaml").write_text("ccproxy:\n  port: 9\n")  # nothing listens on the discard port
    r, modules = _cli(config_dir, config_dir, "flows", "list")
    assert r.returncode == 0, r.stderr
    assert "reading" in r.stderr and "read-only" in r.stderr
    assert "/v1/messages/lazy-probe" in r.stdout
    assert _loaded(modules) == []


def test_flows_list_from_the_daemon_without_heavy_imports(stored: tuple[Path, FlowStore], daemon_port: int) -> None:
    config_dir, _ = stored
    r, modules = _cli(config_dir, config_dir, "flows", "list")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert "/v1/messages/lazy-probe" in r.stdout
    assert _loaded(modules) == []


def test_a_jq_filter_loads_libjq_only_then(stored: tuple[Path, FlowStore], daemon_port: int) -> None:
    config_dir, _ = stored
    r, modules = _cli(config_dir, config_dir, "flows", "list", "--jq", 'map(select(.request.method == "POST"))')
    assert r.returncode == 0, r.stderr
    assert "/v1/messages/lazy-probe" in r.stdout
    assert _loaded(modules) == ["jq"]


def test_run_true_without_heavy_imports(stored: tuple[Path, FlowStore], daemon_port: int) -> None:
    config_dir, _ = stored
    r, modules = _cli(config_dir, config_dir, "run", "--", "true")
    assert r.returncode == 0, r.stderr
    assert _loaded(modules) == []
