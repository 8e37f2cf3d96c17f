"""Per-request cost of `inject_mcp_notifications` in the outbound pipeline, on real mitmproxy
flows: empty buffer (the common case: the guard says no) and one pending event per request
(injection in Anthropic form, and rendered through lightllm for OpenAI Chat), against an
empty outbound pipeline run side by side in the same rounds.

Run: .venv/bin/python bench/mcp_inject.py [--requests N] [--rounds R]
Not a test; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from mitmproxy import http
from mitmproxy.test import tflow

from ccproxy.mcp.notify import McpEvent, NotificationBuffer
from ccproxy.pipeline import Pipeline

HOOK = "ccproxy.hooks.inject_mcp_notifications"
SESSION = "6c3d2a9e-1f4b-4a8e-9c2d-5e7f8a9b0c1d"


def body(wire: str) -> bytes:
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i} " * 30} for i in range(9)]
    return json.dumps({"model": "m", "max_tokens": 1024, "messages": messages}).encode()


def make_flows(n: int, wire: str) -> list[http.HTTPFlow]:
    raw = body(wire)
    flows = []
    for _ in range(n):
        f = tflow.tflow()
        f.request.method = "POST"
        f.request.path = "/v1/messages" if wire == "anthropic" else "/v1/chat/completions"
        f.request.headers["content-type"] = "application/json"
        f.request.content = raw
        f.metadata["ccproxy.upstream_wire"] = wire
        f.metadata["ccproxy.session_id"] = SESSION
        flows.append(f)
    return flows


async def per_request_us(p: Pipeline, flows: list[http.HTTPFlow], buf: NotificationBuffer, fill: bool) -> float:
    services = {"mcp_notifications": buf}
    raw = flows[0].request.content
    elapsed = 0.0
    for f in flows:
        f.request.content = raw  # undo the previous round's injection
        if fill:
            buf.push(McpEvent("build-42", "completed", text="all tests passed", session_id=SESSION))
        start = time.perf_counter()
        await p.run(f, services)
        elapsed += time.perf_counter() - start
    return elapsed / len(flows) * 1e6


async def main(requests: int, rounds: int) -> None:
    base = Pipeline.from_config("outbound", [])
    hooked = Pipeline.from_config("outbound", [HOOK])
    variants = {
        "empty pipeline (baseline)": (base, "anthropic", False),
        "hook, empty buffer": (hooked, "anthropic", False),
        "hook, 1 event, anthropic": (hooked, "anthropic", True),
        "hook, 1 event, openai (IR)": (hooked, "openai", True),
    }
    flows = {w: make_flows(requests, w) for w in ("anthropic", "openai")}
    results: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(rounds):
        for label, (p, wire, fill) in variants.items():
            buf = NotificationBuffer(ttl=300, max_per_session=64)
            results[label].append(await per_request_us(p, flows[wire], buf, fill))
    baseline = statistics.median(results["empty pipeline (baseline)"])
    print(f"body {len(body('anthropic'))} bytes, {requests} requests x {rounds} rounds, median")
    print(f"{'variant':<28} {'us/request':>11} {'+us':>9} {'ratio':>7}")
    for label, values in results.items():
        us = statistics.median(values)
        print(f"{label:<28} {us:>11.2f} {us - baseline:>9.2f} {us / baseline:>6.1f}x")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    asyncio.run(main(args.requests, args.rounds))
