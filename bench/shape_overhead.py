"""Per-request cost of the `shape` hook on real mitmproxy flows, against a pipeline without it.

Variants, side by side in one run (median of rounds, µs per request, 3.4 KB Anthropic body):
  baseline         verbose_mode only
  shape, skipped   + shape, but the request is from the shape's own client family
  shape, applied   + shape applied (packaged anthropic shape, default profile)
  shape, profile   + shape applied with prepend_shape on system and two fresh values

Run: .venv/bin/python bench/shape_overhead.py [--requests N] [--rounds R]
Not a test; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

from mitmproxy import http
from mitmproxy.test import tflow

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline_overhead import BODY

from ccproxy.config.models import Config
from ccproxy.pipeline import Pipeline
from ccproxy.shapes.store import ShapeLibrary


def library(profile: dict[str, object] | None) -> ShapeLibrary:
    shaping: dict[str, object] = {"reload_seconds": 3600}
    if profile:
        shaping["providers"] = {"anthropic": profile}
    return ShapeLibrary(Config.model_validate({"ccproxy": {"shaping": shaping}}))


def make_flows(n: int, user_agent: str) -> list[http.HTTPFlow]:
    raw = json.dumps(BODY).encode()
    flows = []
    for _ in range(n):
        f = tflow.tflow()
        f.request.path = "/v1/messages"
        f.request.headers["content-type"] = "application/json"
        f.request.headers["user-agent"] = user_agent
        f.request.headers["x-api-key"] = "injected"
        f.request.content = raw
        f.metadata["ccproxy.provider"] = "anthropic"
        f.metadata["ccproxy.session_id"] = "6c3d2a9e"
        flows.append(f)
    return flows


async def per_request_us(p: Pipeline, flows: list[http.HTTPFlow], services: dict[str, object], n: int) -> float:
    for i in range(min(n, 300)):
        await p.run(flows[i % len(flows)], services)
    start = time.perf_counter()
    for i in range(n):
        flow = flows[i % len(flows)]
        flow.request.content = json.dumps(BODY).encode()  # each run starts from the client's body
        await p.run(flow, services)
    return (time.perf_counter() - start) / n * 1e6


async def main(requests: int, rounds: int) -> None:
    base = Pipeline.from_config("outbound", ["ccproxy.hooks.verbose_mode"])
    shaped = Pipeline.from_config("outbound", ["ccproxy.hooks.verbose_mode", "ccproxy.hooks.shape"])
    profile = {
        "merge_strategies": {"system": "prepend_shape"},
        "fresh": {"headers.x-request-id": "request_id", "body.metadata.session": "session_uuid"},
    }
    variants = {
        "baseline (verbose_mode)": (base, make_flows(200, "other-tool/1"), {"shapes": library(None)}),
        "shape, skipped (same family)": (shaped, make_flows(200, "Anthropic/Python 2"), {"shapes": library(None)}),
        "shape, applied": (shaped, make_flows(200, "other-tool/1"), {"shapes": library(None)}),
        "shape, applied + profile": (shaped, make_flows(200, "other-tool/1"), {"shapes": library(profile)}),
    }
    results: dict[str, list[float]] = {k: [] for k in variants}
    for r in range(rounds):
        order = list(variants.items())
        for label, (pipe, flows, services) in order if r % 2 == 0 else reversed(order):
            results[label].append(await per_request_us(pipe, flows, services, requests))
    baseline = statistics.median(results["baseline (verbose_mode)"])
    print(f"{requests} requests x {rounds} rounds (alternating order), median µs per request")
    print(f"{'variant':<32} {'µs/request':>11} {'+µs':>8} {'ratio':>7}")
    for label, values in results.items():
        us = statistics.median(values)
        print(f"{label:<32} {us:>11.1f} {us - baseline:>8.1f} {us / baseline:>6.2f}x")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    asyncio.run(main(args.requests, args.rounds))
