"""CLI start-up: `ccproxy flows list` and `ccproxy run -- true`, against a baseline commit,
`ccproxy --version` and `python -c pass`, side by side in one run (alternating order).

    .venv/bin/python bench/cli_startup.py [--rounds 7] [--baseline COMMIT] [--source-only] [--flows 10000]

The baseline's ``src/`` is checked out of git history (``git archive``) into a temporary
directory; both trees run with the same interpreter and dependencies. Each command is run
against a loopback stand-in for the daemon (it answers ``/health`` and an empty ``/flows``),
so the figures are the CLI's own start-up: imports, config, one request, rendering.
``--flows N`` adds `flows list` over a store of N flows with the daemon stopped (the CLI
reads flows.db itself), both trees. CPU seconds (user + system) are given next to wall time:
on a loaded machine they are the steadier figure.

Bytecode: an installed package has it (pip, uv tool and Nix compile it). This bench gives
both trees a private bytecode cache (PYTHONPYCACHEPREFIX) warmed by one run; with
``--source-only`` it measures the uncompiled case instead (PYTHONDONTWRITEBYTECODE=1 and an
empty cache, as in a `uv sync` venv without --compile-bytecode).

``measure()`` returns the rows; ``python -m bench`` can call it.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import source_tree  # noqa: E402

BASELINE = "17a31f5"  # main before the config cache and the table columns (c9b4fcd: before lazy imports)
# Runs the ccproxy CLI from the tree given as the first argument.
_ENTRY = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); sys.argv[0] = 'ccproxy'; "
    "from ccproxy.cli.main import main; main()"
)


@dataclass(frozen=True)
class Row:
    label: str
    median_s: float
    best_s: float
    cpu_s: float  # median user + system CPU of the command


class _Daemon(BaseHTTPRequestHandler):
    """Just enough of the control endpoints for the commands measured."""

    def log_message(self, *a: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = b"[]" if self.path.startswith("/flows") else b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


_MAKE_STORE = """
import json, sys
src, kit, target, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.path[:0] = [src, kit]
from storekit import quick_flow
from ccproxy.flows.store import DB_FILE, FlowStore
from pathlib import Path
store = FlowStore(Path(target) / DB_FILE, max_flows=n, max_bytes=10**11)
store.open()
body = json.dumps({"model": "claude-test", "messages": [{"role": "user", "content": "hi " * 50}]}).encode()
hosts = ("api.anthropic.com", "api.openai.com")
futures = [
    store.complete(
        quick_flow(
            "/v1/messages" if i % 3 != 2 else "/v1/models",
            host=hosts[i % 2],
            request_body=body,
            request_headers={"user-agent": "claude-cli/1.0"},
        )
    )
    for i in range(n)
]
for future in futures:
    future.result()
store.close()
"""


def _free_port() -> int:
    with socket.socket() as s:  # a port that was free a moment ago: connecting is refused
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _store_dir(tmp: Path, n: int, src: str, name: str) -> Path:
    """A config dir whose flows.db holds ``n`` flows, written by the store of the tree ``src``
    (each tree reads a store of its own schema), and whose daemon address nobody listens on."""
    target = tmp / f"store-{name}"
    target.mkdir()
    kit = str(ROOT / "tests" / "flows")
    subprocess.run([sys.executable, "-c", _MAKE_STORE, src, kit, str(target), str(n)], check=True)
    (target / "ccproxy.yaml").write_text(f"ccproxy:\n  port: {_free_port()}\n")
    return target


def _filtered_dir(tmp: Path, store: Path, name: str) -> Path:
    """A config dir over ``store`` (daemon stopped) with a default jq filter."""
    target = tmp / f"filtered-{name}"
    target.mkdir()
    jq = 'map(select(.request.method == "POST"))'
    (target / "ccproxy.yaml").write_text(
        f"ccproxy:\n  port: {_free_port()}\n  state_dir: {store}\n  flows:\n    default_jq_filters: ['{jq}']\n"
    )
    return target


def _start_daemon(tmp: Path, store: Path, n: int, src: str, name: str) -> Any:
    """The tree's own daemon (the real `ccproxy start`) over ``store``."""
    sys.path.insert(0, str(ROOT))
    from tests.support.daemon import DaemonProcess

    config = {
        "ccproxy": {
            "state_dir": str(store),
            "flows": {"max_flows": 2 * n, "max_bytes": 10**11},
            "inspector": {"wireguard": False},
            "mcp": {"enabled": False},
        }
    }
    return DaemonProcess(tmp / f"daemon-{name}", config, wrap=["env", f"PYTHONPATH={src}"]).start()


def measure(rounds: int = 7, baseline: str = BASELINE, source_only: bool = False, flows: int = 0) -> list[Row]:
    """Median and best wall time of each subject over ``rounds`` alternating rounds."""
    tmp = Path(tempfile.mkdtemp(prefix="ccproxy-bench-startup-"))
    daemons: list[Any] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Daemon)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cfg = tmp / "cfg"
        cfg.mkdir()
        (cfg / "ccproxy.yaml").write_text(f"ccproxy:\n  host: 127.0.0.1\n  port: {server.server_address[1]}\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "CCPROXY_"))}
        env["CCPROXY_CONFIG_DIR"] = str(cfg)
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
        if source_only:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        py = sys.executable
        old, new = str(source_tree(baseline, tmp, "cli_startup")), str(ROOT / "src")
        subjects: list[tuple[str, Sequence[str]]] = [
            ("python -c pass", [py, "-c", "pass"]),
            ("ccproxy --version (this tree)", [py, "-c", _ENTRY, new, "--version"]),
            (f"flows list ({baseline})", [py, "-c", _ENTRY, old, "flows", "list"]),
            ("flows list (this tree)", [py, "-c", _ENTRY, new, "flows", "list"]),
            (f"run -- true ({baseline})", [py, "-c", _ENTRY, old, "run", "--", "true"]),
            ("run -- true (this tree)", [py, "-c", _ENTRY, new, "run", "--", "true"]),
        ]
        envs: dict[str, dict[str, str]] = {}
        cold: dict[str, Path] = {}  # label -> a cache file removed before each of its runs
        for tree, where in ((baseline, old), ("this tree", new)):
            cold_dir = tmp / f"cold-{len(cold)}"
            cold_dir.mkdir()
            (cold_dir / "ccproxy.yaml").write_text((cfg / "ccproxy.yaml").read_text())
            label = f"flows list, no config cache ({tree})"
            subjects.append((label, [py, "-c", _ENTRY, where, "flows", "list"]))
            envs[label] = {**env, "CCPROXY_CONFIG_DIR": str(cold_dir)}
            cold[label] = cold_dir / "ccproxy.yaml.validated"
        if flows:
            for tree, where in ((baseline, old), ("this tree", new)):
                name = "base" if tree == baseline else "new"
                store = _store_dir(tmp, flows, where, name)
                daemons.append(_start_daemon(tmp, store, flows, where, name))
                for how, config_dir in (
                    ("offline", store),
                    ("daemon running", daemons[-1].config_dir),
                    ("offline, default jq filter", _filtered_dir(tmp, store, name)),
                ):
                    label = f"flows list, {flows} flows, {how} ({tree})"
                    subjects.append((label, [py, "-c", _ENTRY, where, "flows", "list"]))
                    envs[label] = {**env, "CCPROXY_CONFIG_DIR": str(config_dir)}
        if not source_only:  # warm the bytecode cache, and check every command works
            for label, cmd in subjects:
                r = subprocess.run(cmd, env=envs.get(label, env), capture_output=True, text=True)
                if r.returncode != 0:
                    raise SystemExit(f"{label}: exit {r.returncode}: {r.stderr.strip()}")
        times: dict[str, list[float]] = {label: [] for label, _ in subjects}
        cpu: dict[str, list[float]] = {label: [] for label, _ in subjects}
        for i in range(rounds):
            order = subjects if i % 2 == 0 else subjects[::-1]
            for label, cmd in order:
                if source_only:
                    shutil.rmtree(tmp / "pycache", ignore_errors=True)
                if label in cold:
                    cold[label].unlink(missing_ok=True)
                c, t = _children_cpu(), time.perf_counter()
                subprocess.run(cmd, env=envs.get(label, env), capture_output=True, check=True)
                times[label].append(time.perf_counter() - t)
                cpu[label].append(_children_cpu() - c)
        return [
            Row(label, statistics.median(times[label]), min(times[label]), statistics.median(cpu[label]))
            for label, _ in subjects
        ]
    finally:
        for daemon in daemons:
            daemon.stop()
        server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--baseline", default=BASELINE)
    ap.add_argument("--source-only", action="store_true", help="no bytecode (every import compiles its source)")
    ap.add_argument("--flows", type=int, default=0, help="also `flows list` over a store of this many flows")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    rows = measure(args.rounds, args.baseline, args.source_only, args.flows)
    base = {r.label: r for r in rows}
    print(
        f"CLI start-up, {'source only' if args.source_only else 'with bytecode'}, {args.rounds} rounds, "
        f"load {load:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    print(f"{'subject':62} {'median':>8} {'best':>8} {'cpu':>8}  vs --version")
    ref = base["ccproxy --version (this tree)"].median_s
    for r in rows:
        print(f"{r.label:62} {r.median_s:7.3f}s {r.best_s:7.3f}s {r.cpu_s:7.3f}s  {r.median_s / ref:5.2f}x")
    for how in ("offline", "daemon running", "offline, default jq filter") if args.flows else ():
        before = base[f"flows list, {args.flows} flows, {how} ({args.baseline})"]
        after = base[f"flows list, {args.flows} flows, {how} (this tree)"]
        print(
            f"flows list, {args.flows} flows, {how}: {before.median_s / after.median_s:.1f}x faster wall, "
            f"{before.cpu_s / after.cpu_s:.1f}x less CPU; goal <= 0.5 s: "
            f"{'met' if after.median_s <= 0.5 else 'missed'} ({after.median_s:.3f} s wall, {after.cpu_s:.3f} s CPU)"
        )
    for cmd in ("flows list", "run -- true"):
        before, after = base[f"{cmd} ({args.baseline})"], base[f"{cmd} (this tree)"]
        print(
            f"{cmd}: {before.median_s / after.median_s:.1f}x faster than {args.baseline}; "
            f"goal <= 0.25 s: {'met' if after.median_s <= 0.25 else 'missed'} "
            f"({after.median_s:.3f} s wall, {after.cpu_s:.3f} s CPU)"
        )


if __name__ == "__main__":
    main()
