"""CPU cost of ccproxy's own addon chain per passthrough request, per addon, in one process.

    .venv/bin/python bench/chain_cost.py [--flows 3000]
    PYTHONPATH=/path/to/other/src .venv/bin/python bench/chain_cost.py   # another version, same flows

The daemon's real chain (daemon/chain.py, default hooks, a real SQLite store) sees real
mitmproxy flows of an OpenAI chat request through the reverse listener: every addon's
`requestheaders`, `request`, `responseheaders` and `response` in chain order, the recorder's
commit awaited. CPU time per flow (process_time: the store's writer thread included, other
processes on the machine excluded), and per addon the event loop thread's CPU (thread_time: the
writer's work, which runs alongside, would otherwise land on whichever addon is being timed).
Not a test; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from mitmproxy import connection, http, options
from mitmproxy.master import Master
from mitmproxy.proxy import mode_specs
from mitmproxy.test import tflow

from ccproxy.addons.context import DaemonContext
from ccproxy.config.loader import parse_config
from ccproxy.daemon.chain import build_chain
from ccproxy.daemon.master import make_store

EVENTS = ("requestheaders", "request", "responseheaders", "response")
BODY = json.dumps({"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}).encode()
ANSWER = json.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-test",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }
).encode()


def reverse_flow(path: str, headers: dict[str, str], body: bytes) -> http.HTTPFlow:
    """A POST as the reverse-proxy listener at 127.0.0.1:4000 hands it to the chain."""
    client = connection.Client(
        peername=("127.0.0.1", 50000),
        sockname=("127.0.0.1", 4000),
        timestamp_start=time.time(),
        proxy_mode=mode_specs.ProxyMode.parse("reverse:http://127.0.0.1:9@127.0.0.1:4000"),
    )
    f = tflow.tflow(client_conn=client)
    req = f.request
    req.method, req.scheme, req.host, req.port, req.path = "POST", "http", "127.0.0.1", 9, path
    req.headers.clear()
    req.headers.update({"host": "127.0.0.1:4000", "content-type": "application/json", **headers})
    req.content = body
    req.timestamp_start = time.time()
    return f


def make_flow() -> http.HTTPFlow:
    return reverse_flow("/v1/chat/completions", {"authorization": "Bearer sk-test"}, BODY)


def respond(f: http.HTTPFlow) -> None:
    f.response = http.Response.make(200, ANSWER, {"content-type": "application/json"})
    f.response.timestamp_start = f.response.timestamp_end = time.time()


async def run(flows: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="ccproxy-chain-"))
    providers = {"openai": {"type": "openai", "host": "127.0.0.1:1", "scheme": "http"}}
    config = parse_config({"ccproxy": {"providers": providers}}, tmp)
    ctx = DaemonContext(config=config, store=make_store(config))
    chain = build_chain(ctx)
    master = Master(options.Options(), event_loop=asyncio.get_running_loop(), with_termlog=False)
    master.addons.add(*chain)  # addons look up ctx.master and options, as in the daemon
    cost: dict[str, list[float]] = defaultdict(list)
    totals: list[float] = []
    walls: list[float] = []
    handlers = [
        (type(a).__name__, ev, getattr(a, ev)) for ev in EVENTS for a in chain if callable(getattr(a, ev, None))
    ]
    for i in range(flows + 300):
        f = make_flow()
        start, wall = time.process_time(), time.perf_counter()
        for name, ev, fn in handlers:
            if ev == "responseheaders" and f.response is None:
                respond(f)
            t = time.thread_time()
            result = fn(f)
            if inspect.isawaitable(result):
                await result
            if i >= 300:  # the first flows warm caches up
                cost[f"{name}.{ev}"].append(time.thread_time() - t)
        if i >= 300:
            totals.append(time.process_time() - start)
            walls.append(time.perf_counter() - wall)
    ctx.store.close()
    print(
        f"# chain per passthrough flow, {flows} flows: CPU {sum(totals) / flows * 1e6:.1f} us (mean), "
        f"wall {statistics.median(walls) * 1e6:.1f} us (median; the commit wait included)"
    )
    print("| addon.event | loop-thread mean us | share |\n|---|---|---|")
    total = sum(sum(v) for v in cost.values())
    for key, values in sorted(cost.items(), key=lambda kv: -sum(kv[1])):
        mean = statistics.fmean(values) * 1e6
        if mean >= 0.5:
            print(f"| {key} | {mean:.1f} | {sum(values) / total:.0%} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flows", type=int, default=3000)
    asyncio.run(run(ap.parse_args().flows))
