"""Per-request cost of the hook pipeline: 10 no-op hooks vs 0 hooks, on real mitmproxy flows.

Run: .venv/bin/python bench/pipeline_overhead.py [--requests N]
Prints microseconds per request for each variant, the difference to the
0-hook baseline and the ratio, side by side. Not a test; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import timeit
import types
from typing import Any

from mitmproxy import http
from mitmproxy.test import tflow

from ccproxy.pipeline import Pipeline, hook

BODY = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 1024,
    "system": [{"type": "text", "text": "You are a helpful assistant. " * 20}],
    "messages": [{"role": "user", "content": f"message {i} " * 30} for i in range(8)],
    "metadata": {"user_id": json.dumps({"session_id": "6c3d2a9e-1f4b-4a8e-9c2d-5e7f8a9b0c1d"})},
}


def _module(name: str, hooks: list[Any]) -> str:
    """Register hook specs in an importable module, as a user module would be."""
    mod = types.ModuleType(name)
    for h in hooks:
        setattr(mod, h.name, h)
        h.module = name
    sys.modules[name] = mod
    return name


def make_hooks() -> dict[str, list[str]]:
    def noop(ctx: Any) -> None:
        return None

    async def anoop(ctx: Any) -> None:
        return None

    def read_model(ctx: Any) -> None:
        ctx.get("request.model")

    sync = [hook(name=f"noop_{i}")(noop) for i in range(10)]
    asyn = [hook(name=f"anoop_{i}")(anoop) for i in range(10)]
    chain = [hook(name=f"chain_{i}", reads=[f"metadata.k{i}"], writes=[f"metadata.k{i + 1}"])(noop) for i in range(10)]
    guarded = [hook(name=f"guarded_{i}", guard=lambda ctx: False)(noop) for i in range(10)]
    readers = [hook(name=f"reader_{i}", reads=["request.model"])(read_model) for i in range(10)]
    variants: dict[str, list[Any]] = {
        "10 no-op sync, one level": sync,
        "10 no-op async, one level": asyn,
        "10 no-op sync, 10 levels": chain,
        "10 guarded off": guarded,
        "10 reading request.model": readers,
    }
    return {
        label: [f"{_module(f'bench_hooks_{n}', hs)}.{h.name}" for h in hs]
        for n, (label, hs) in enumerate(variants.items())
    }


def make_flows(n: int) -> list[http.HTTPFlow]:
    raw = json.dumps(BODY).encode()
    flows = []
    for _ in range(n):
        f = tflow.tflow()
        f.request.path = "/v1/messages"
        f.request.headers["content-type"] = "application/json"
        f.request.content = raw
        flows.append(f)
    return flows


async def per_request_us(p: Pipeline, flows: list[http.HTTPFlow], requests: int) -> float:
    n = len(flows)
    for i in range(min(requests, 500)):  # warm-up
        await p.run(flows[i % n])
    start = time.perf_counter()
    for i in range(requests):
        await p.run(flows[i % n])
    return (time.perf_counter() - start) / requests * 1e6


async def main(requests: int, rounds: int) -> None:
    flows = make_flows(1000)
    print(f"body {len(flows[0].request.content or b'')} bytes, {requests} requests x {rounds} rounds, median")
    base = Pipeline.from_config("inbound", [])
    pipes = {label: Pipeline.from_config("inbound", paths) for label, paths in make_hooks().items()}
    results: dict[str, list[float]] = {"0 hooks (baseline)": []}
    results.update({label: [] for label in pipes})
    for _ in range(rounds):
        results["0 hooks (baseline)"].append(await per_request_us(base, flows, requests))
        for label, p in pipes.items():
            results[label].append(await per_request_us(p, flows, requests))
    raw = flows[0].request.content or b""
    loads_us = timeit.timeit(lambda: json.loads(raw), number=requests) / requests * 1e6
    baseline = statistics.median(results["0 hooks (baseline)"])
    print(f"{'variant':<30} {'us/request':>11} {'+us vs 0':>9} {'ratio':>7}")
    for label, values in results.items():
        us = statistics.median(values)
        print(f"{label:<30} {us:>11.2f} {us - baseline:>9.2f} {us / baseline:>6.1f}x")
    print(f"{'(scale: one json.loads of body)':<30} {loads_us:>11.2f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    asyncio.run(main(args.requests, args.rounds))
