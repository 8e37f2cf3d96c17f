"""CLI start-up: `ccproxy flows list` and `ccproxy run -- true`, against a baseline commit,
`ccproxy --version` and `python -c pass`, side by side in one run (alternating order).

    .venv/bin/python bench/cli_startup.py [--rounds 7] [--baseline COMMIT] [--source-only]

The baseline's ``src/`` is checked out of git history (``git archive``) into a temporary
directory; both trees run with the same interpreter and dependencies. Each command is run
against a loopback stand-in for the daemon (it answers ``/health`` and an empty ``/flows``),
so the figures are the CLI's own start-up: imports, config, one request, rendering.

Bytecode: an installed package has it (pip, uv tool and Nix compile it). This bench gives
both trees a private bytecode cache (PYTHONPYCACHEPREFIX) warmed by one run; with
``--source-only`` it measures the uncompiled case instead (PYTHONDONTWRITEBYTECODE=1 and an
empty cache, as in a `uv sync` venv without --compile-bytecode).

``measure()`` returns the rows; ``python -m bench`` can call it.
"""

from __future__ import annotations

import argparse
import os
import shutil
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
BASELINE = "c9b4fcd"  # main before the lazy-import work
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


def _checkout(commit: str, tmp: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "src"], check=True, capture_output=True)
    target = tmp / f"tree-{commit}"
    target.mkdir()
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target / "src"


def measure(rounds: int = 7, baseline: str = BASELINE, source_only: bool = False) -> list[Row]:
    """Median and best wall time of each subject over ``rounds`` alternating rounds."""
    tmp = Path(tempfile.mkdtemp(prefix="ccproxy-bench-startup-"))
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
        old, new = str(_checkout(baseline, tmp)), str(ROOT / "src")
        subjects: list[tuple[str, Sequence[str]]] = [
            ("python -c pass", [py, "-c", "pass"]),
            ("ccproxy --version (this tree)", [py, "-c", _ENTRY, new, "--version"]),
            (f"flows list ({baseline})", [py, "-c", _ENTRY, old, "flows", "list"]),
            ("flows list (this tree)", [py, "-c", _ENTRY, new, "flows", "list"]),
            (f"run -- true ({baseline})", [py, "-c", _ENTRY, old, "run", "--", "true"]),
            ("run -- true (this tree)", [py, "-c", _ENTRY, new, "run", "--", "true"]),
        ]
        if not source_only:  # warm the bytecode cache, and check every command works
            for label, cmd in subjects:
                r = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if r.returncode != 0:
                    raise SystemExit(f"{label}: exit {r.returncode}: {r.stderr.strip()}")
        times: dict[str, list[float]] = {label: [] for label, _ in subjects}
        for i in range(rounds):
            order = subjects if i % 2 == 0 else subjects[::-1]
            for label, cmd in order:
                if source_only:
                    shutil.rmtree(tmp / "pycache", ignore_errors=True)
                t = time.perf_counter()
                subprocess.run(cmd, env=env, capture_output=True, check=True)
                times[label].append(time.perf_counter() - t)
        return [Row(label, statistics.median(times[label]), min(times[label])) for label, _ in subjects]
    finally:
        server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--baseline", default=BASELINE)
    ap.add_argument("--source-only", action="store_true", help="no bytecode (every import compiles its source)")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    rows = measure(args.rounds, args.baseline, args.source_only)
    base = {r.label: r for r in rows}
    print(
        f"CLI start-up, {'source only' if args.source_only else 'with bytecode'}, {args.rounds} rounds, "
        f"load {load:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    print(f"{'subject':34} {'median':>8} {'best':>8}  vs --version")
    ref = base["ccproxy --version (this tree)"].median_s
    for r in rows:
        print(f"{r.label:34} {r.median_s:7.3f}s {r.best_s:7.3f}s  {r.median_s / ref:5.2f}x")
    for cmd in ("flows list", "run -- true"):
        before, after = base[f"{cmd} ({args.baseline})"], base[f"{cmd} (this tree)"]
        print(
            f"{cmd}: {before.median_s / after.median_s:.1f}x faster than {args.baseline}; "
            f"goal <= 0.25 s: {'met' if after.median_s <= 0.25 else 'missed'} ({after.median_s:.3f} s)"
        )


if __name__ == "__main__":
    main()
