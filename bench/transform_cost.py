"""CPU cost of ccproxy's chain per converted request, per addon, in one process.

    .venv/bin/python bench/transform_cost.py [--flows 2000] [--workloads KEY,...]
    PYTHONPATH=/path/to/other/src .venv/bin/python bench/transform_cost.py   # another version
    .venv/bin/python bench/transform_cost.py --baseline COMMIT [--rounds 3]  # side by side

Like bench/chain_cost.py, but for the harness's transform workloads (bench/subjects.py): the
daemon's real chain (daemon/chain.py, default hooks, a real SQLite store, a `lightllm.transforms`
rule on the model name) sees real mitmproxy flows of the client's request; the answer is the
fake upstream's canned body (tests/support/canned.py), and a stream is fed to
`flow.response.stream` one upstream event per call, as mitmproxy does. CPU time per flow: in
total (process_time, the store's writer thread included) and per addon event on the event loop's
thread (thread_time; the writer's work shows as FlowStore in the total only); "StreamTap" is the
tap's calls for one stream.

`--baseline COMMIT` measures `git archive COMMIT src` and this tree side by side: each round runs
one child process per tree (order reversed every round, so load from elsewhere falls on both
alike) and the table gives the median CPU per flow of each, their ratio, and the same for the
addon events that differ most.
Not a test; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mitmproxy import http, options
from mitmproxy.master import Master
from tests.support.canned import anthropic_events, anthropic_message, openai_chat, openai_chat_events

from bench.chain_cost import reverse_flow
from bench.common import source_tree
from bench.subjects import CANNED_MODEL, PATHS, WORKLOADS, Workload, workload_request
from ccproxy.addons import streaming
from ccproxy.addons.context import DaemonContext
from ccproxy.config.loader import parse_config
from ccproxy.daemon.chain import build_chain
from ccproxy.daemon.master import make_store

EVENTS = ("requestheaders", "request", "responseheaders", "response")
ANSWERS = {"anthropic": json.dumps(anthropic_message()).encode(), "openai": json.dumps(openai_chat()).encode()}
STREAMS = {"anthropic": anthropic_events(), "openai": openai_chat_events()}


def make_flow(w: Workload) -> http.HTTPFlow:
    r = workload_request(w)
    return reverse_flow(r.path, dict(r.headers), r.body)


def respond(f: http.HTTPFlow, w: Workload) -> None:
    if w.stream:
        f.response = http.Response.make(200, b"", {"content-type": "text/event-stream"})
    else:
        f.response = http.Response.make(200, ANSWERS[w.upstream], {"content-type": "application/json"})
    f.response.timestamp_start = time.time()


def feed(f: http.HTTPFlow, w: Workload) -> int:
    """The upstream's events through the tap, then the end; returns the client bytes."""
    assert f.response is not None
    tap = f.response.stream
    assert callable(tap), "no stream tap: the streaming addon did not take the response"
    sent = 0
    for chunk in [*STREAMS[w.upstream], b""]:
        out = tap(chunk)
        sent += len(out) if isinstance(out, bytes) else sum(len(x) for x in out)
    f.response.timestamp_end = time.time()
    return sent


async def run(workloads: list[Workload], flows: int, as_json: bool = False) -> None:
    # tflow's connections have no fault guard to install: its per-flow warning is not what we measure
    logging.getLogger("ccproxy.addons.faults").setLevel(logging.ERROR)
    # nor has a stream one to carry mitmproxy's fault guard (the daemon's always do)
    streaming.guard_stream = lambda master, flow: True
    tmp = Path(tempfile.mkdtemp(prefix="ccproxy-transform-"))
    providers = {wire: {"type": wire, "host": "127.0.0.1:1", "scheme": "http"} for wire in PATHS}
    rules = [
        {"match_model": f"^to-{wire}$", "action": "transform", "dest_provider": wire, "dest_model": CANNED_MODEL[wire]}
        for wire in PATHS
    ]
    config = parse_config({"ccproxy": {"providers": providers, "lightllm": {"transforms": rules}}}, tmp)
    ctx = DaemonContext(config=config, store=make_store(config))
    chain = build_chain(ctx)
    master = Master(options.Options(), event_loop=asyncio.get_running_loop(), with_termlog=False)
    master.addons.add(*chain)
    handlers: list[tuple[str, str, Callable[..., Any]]] = [
        (type(a).__name__, ev, getattr(a, ev)) for ev in EVENTS for a in chain if callable(getattr(a, ev, None))
    ]
    for w in workloads:
        await measure(w, flows, handlers, as_json)
    ctx.store.close()


async def measure(
    w: Workload, flows: int, handlers: list[tuple[str, str, Callable[..., Any]]], as_json: bool = False
) -> None:
    cost: dict[str, list[float]] = defaultdict(list)
    totals: list[float] = []
    warm = 200
    for i in range(flows + warm):
        f = make_flow(w)
        start = time.process_time()
        for name, ev, fn in handlers:
            if ev == "responseheaders" and f.response is None:
                respond(f, w)
            t = time.thread_time()
            result = fn(f)
            if inspect.isawaitable(result):
                await result
            if i >= warm:
                cost[f"{name}.{ev}"].append(time.thread_time() - t)
            if ev == "responseheaders" and w.stream and (name, ev) == _last(handlers, "responseheaders"):
                t = time.thread_time()
                feed(f, w)
                if i >= warm:
                    cost["StreamTap (all chunks)"].append(time.thread_time() - t)
        if f.response is None or f.response.status_code != 200:
            raise SystemExit(f"{w.key}: flow answered {f.response and f.response.status_code}: {f.metadata}")
        if i >= warm:
            totals.append(time.process_time() - start)
    if as_json:  # one line per workload for the side-by-side parent
        means = {k: statistics.fmean(v) * 1e6 for k, v in cost.items()}
        print(json.dumps({"workload": w.key, "cpu_us": sum(totals) / flows * 1e6, "events": means}), flush=True)
        return
    print(f"\n# {w.label}: chain per flow, {flows} flows: CPU {sum(totals) / flows * 1e6:.1f} us (mean)")
    print("| addon.event (loop thread) | mean us | share |\n|---|---|---|")
    total = sum(sum(v) for v in cost.values())
    for key, values in sorted(cost.items(), key=lambda kv: -sum(kv[1])):
        mean = statistics.fmean(values) * 1e6
        if mean >= 2:
            print(f"| {key} | {mean:.1f} | {sum(values) / total:.0%} |")


def _last(handlers: list[tuple[str, str, Callable[..., Any]]], event: str) -> tuple[str, str]:
    name, ev, _ = [h for h in handlers if h[1] == event][-1]
    return name, ev


ROOT = Path(__file__).resolve().parents[1]


def _child(src: Path, flows: int, workloads: str) -> dict[str, dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    argv = [sys.executable, __file__, "--flows", str(flows), "--workloads", workloads, "--json"]
    out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return {r["workload"]: r for r in rows}


def side_by_side(baseline: str, rounds: int, flows: int, workloads: str, against: str | None = None) -> None:
    label = against or "this tree"
    with tempfile.TemporaryDirectory(prefix="ccproxy-transform-ab-") as tmp:
        new_src = source_tree(against, Path(tmp) / "new", "transform_cost") if against else ROOT / "src"
        trees = {baseline: source_tree(baseline, Path(tmp) / "old", "transform_cost"), label: new_src}
        runs: dict[str, list[dict[str, dict[str, Any]]]] = {name: [] for name in trees}
        for r in range(rounds):
            order = list(trees) if r % 2 == 0 else list(reversed(trees))
            for name in order:
                runs[name].append(_child(trees[name], flows, workloads))
    base, new = runs[baseline], runs[label]
    print(f"# CPU per converted flow, {baseline} vs {label}: {rounds} rounds x {flows} flows")
    print("(median of the rounds; the least round in brackets: interference from elsewhere only adds CPU)")
    print(f"| workload | {baseline} us | {label} us | ratio |\n|---|---|---|---|")
    for key in base[0]:
        b, n = ([x[key]["cpu_us"] for x in side] for side in (base, new))
        bm, nm = statistics.median(b), statistics.median(n)
        ratio = f"{nm / bm:.2f}x ({min(n) / min(b):.2f}x)"
        print(f"| {key} | {bm:.1f} ({min(b):.1f}) | {nm:.1f} ({min(n):.1f}) | {ratio} |")
    for key in base[0]:
        events = base[0][key]["events"]
        diffs = []
        for ev in set(events) | set(new[0][key]["events"]):
            b = statistics.median(x[key]["events"].get(ev, 0.0) for x in base)
            n = statistics.median(x[key]["events"].get(ev, 0.0) for x in new)
            diffs.append((ev, b, n))
        diffs.sort(key=lambda d: -abs(d[1] - d[2]))
        print(f"\n## {key}: the addon events that changed most (loop thread, us per flow)")
        print(f"| addon.event | {baseline} | {label} |\n|---|---|---|")
        for ev, b, n in diffs[:6]:
            print(f"| {ev} | {b:.1f} | {n:.1f} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flows", type=int, default=2000)
    ap.add_argument("--workloads", default=",".join(w.key for w in WORKLOADS if w.transform))
    ap.add_argument("--baseline", metavar="COMMIT", help="measure git archive COMMIT side by side with this tree")
    ap.add_argument("--against", metavar="COMMIT", help="with --baseline: COMMIT instead of the working tree")
    ap.add_argument("--rounds", type=int, default=3, help="with --baseline: child runs per tree")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # a side-by-side child's output
    a = ap.parse_args()
    chosen = []
    for key in a.workloads.split(","):
        wl = next((x for x in WORKLOADS if x.key == key), None)
        if wl is None:
            raise SystemExit(f"transform_cost: unknown workload {key!r}")
        chosen.append(wl)
    if a.baseline:
        side_by_side(a.baseline, a.rounds, a.flows, a.workloads, a.against)
    else:
        asyncio.run(run(chosen, a.flows, a.json))
