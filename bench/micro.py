"""Micro-benchmarks of the harness, built on the single-purpose benches in bench/: streaming
conversion events/s per direction, request conversion per second, pipeline cost per hook,
and CLI start-up. Each returns rows for the report and measures its baseline in the same run."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import lightllm_convert, pipeline_overhead, stream_convert
from bench.common import corpus_dir


def stream_events(deltas: int, repeat: int) -> list[dict[str, Any]]:
    """Upstream SSE events converted per CPU-second, per direction, next to same-format passthrough."""
    from ccproxy.lightllm.ir import WIRES

    events = stream_convert.scenario(deltas)
    rows = []
    for src in WIRES:
        chunks = stream_convert.upstream_chunks(src, events)
        base = stream_convert.run(src, src, chunks, repeat)
        for dst in WIRES:
            if dst == src:
                continue
            t = stream_convert.run(src, dst, chunks, repeat)
            n = len(chunks)
            row = {"direction": f"{src} → {dst}", "events": n, "events_s": n / t, "passthrough_events_s": n / base}
            rows.append(row)
    return rows


def request_conversion(repeat: int) -> list[dict[str, Any]]:
    """Bodies converted per second (corpus in tests/corpus), next to a JSON decode+encode."""
    rows = []
    for r in lightllm_convert.measure(corpus_dir(), repeat):
        rows.append(
            {
                "wire": r.wire,
                "kind": r.kind,
                "bodies": r.bodies,
                "per_s": 1e6 / r.cross_us,
                "json_per_s": 1e6 / r.json_us,
                "cost_x": r.cross_us / r.json_us,
            }
        )
    return rows


def pipeline_per_hook(requests: int, rounds: int) -> list[dict[str, Any]]:
    """µs per request through 10 hooks of each kind, minus 0 hooks, over 10: the cost of one hook."""
    from ccproxy.pipeline import Pipeline

    async def go() -> list[dict[str, Any]]:
        flows = pipeline_overhead.make_flows(200)
        base = Pipeline.from_config("inbound", [])
        variants = pipeline_overhead.make_hooks().items()
        pipes = {label: Pipeline.from_config("inbound", paths) for label, paths in variants}
        samples: dict[str, list[float]] = {"0 hooks": [], **{label: [] for label in pipes}}
        for _ in range(rounds):  # interleaved, so load from elsewhere hits every variant alike
            samples["0 hooks"].append(await pipeline_overhead.per_request_us(base, flows, requests))
            for label, p in pipes.items():
                samples[label].append(await pipeline_overhead.per_request_us(p, flows, requests))
        zero = statistics.median(samples["0 hooks"])
        rows = [{"variant": "0 hooks (baseline)", "us_request": zero, "us_per_hook": 0.0}]
        for label in pipes:
            us = statistics.median(samples[label])
            rows.append({"variant": label, "us_request": us, "us_per_hook": (us - zero) / 10})
        return rows

    return asyncio.run(go())


CLI_COMMANDS = [
    ("python -c pass (baseline)", [sys.executable, "-c", "pass"]),
    ("python -c 'import mitmproxy.http' (baseline)", [sys.executable, "-c", "import mitmproxy.http"]),
    ("ccproxy --version", [sys.executable, "-m", "ccproxy", "--version"]),
    ("ccproxy flows list", [sys.executable, "-m", "ccproxy", "flows", "list"]),
    ("ccproxy run -- true", [sys.executable, "-m", "ccproxy", "run", "--", "true"]),
]


def cli_startup(config_dir: Path, repeat: int) -> list[dict[str, Any]]:
    """Wall time of each command against a running daemon (config_dir), interleaved, median."""
    env = {**os.environ, "CCPROXY_CONFIG_DIR": str(config_dir)}
    times: dict[str, list[float]] = {label: [] for label, _ in CLI_COMMANDS}
    failed: dict[str, str] = {}
    warm = 1 if repeat > 1 else 0  # a first round warms the page cache and .pyc files
    for _ in range(repeat + warm):
        for label, argv in CLI_COMMANDS:
            t = time.perf_counter()
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
            times[label].append(time.perf_counter() - t)
            if done.returncode != 0:
                failed[label] = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
    return [
        {"command": label, "median_s": statistics.median(v[warm:]), "error": failed.get(label, "")}
        for label, v in times.items()
    ]
