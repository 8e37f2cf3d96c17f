"""CPU cost of mitmproxy's hook dispatch over the daemon's real master, per passthrough flow.

    .venv/bin/python -m bench.dispatch_cost [--flows 2000] [--rounds 6] [--no-persist]

The daemon's own `Daemon._build` makes the master (mitmproxy's 7 addons, ccproxy's chain, the
default config, a real SQLite store in a temporary state dir). Each flow is an OpenAI chat
request as the reverse listener hands it over, fired through `addons.handle_lifecycle` for the
four events a passthrough flow fires (requestheaders, request, responseheaders, response; each
followed by stock's `update`). Three ways, in alternating blocks in this one process:

- `stock`: mitmproxy's own AddonManager (the class swapped back on the same master);
- `indexed`: `mitm_compat.HookIndexedAddonManager`;
- `direct`: the implementing hook methods called straight, in chain order (no dispatch at all:
  the floor, what the addons' own work costs).

CPU is the event loop thread's (thread_time: the store's writer thread, identical work in every
way, is left out, and so is other processes' load); process_time, the writer included, is printed
next to it. Dispatch overhead = way - direct. Log records below ERROR are off (without a live
connection the faults addon warns once per flow).
Also prints, per hook, how many addons of the chain implement it, and the cost of one event
nobody implements (`update`). Not a test; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.chain_cost import make_flow, respond

EVENTS = ("requestheaders", "request", "responseheaders", "response")
CONNECTION_EVENTS = (
    "client_connected",
    "server_connect",
    "server_connected",
    "server_disconnected",
    "client_disconnected",
)


def build_master(persist: bool, tmp: Path) -> Any:
    from ccproxy.config.loader import parse_config
    from ccproxy.daemon.master import Daemon

    providers = {"openai": {"type": "openai", "host": "127.0.0.1:1", "scheme": "http"}}
    section: dict[str, Any] = {"providers": providers, "flows": {"persist": persist}}
    daemon = Daemon(parse_config({"ccproxy": section}, tmp))
    return daemon, daemon._build(asyncio.get_running_loop())


def implementers(master: Any) -> dict[str, list[str]]:
    from mitmproxy import addonmanager, hooks

    out: dict[str, list[str]] = {}
    for name in [*EVENTS, "update", *CONNECTION_EVENTS, "next_layer", "running", "configure"]:
        assert name in hooks.all_hooks
        found = []
        for top in master.addons.chain:
            for a in addonmanager.traverse([top]):
                if callable(getattr(a, name, None)):
                    found.append(type(a).__name__)
        out[name] = found
    return out


def hook_events(f: Any) -> list[Callable[[], Any]]:
    from mitmproxy.proxy.layers import http as lhttp

    def response_headers() -> Any:
        respond(f)  # the upstream's answer arrives
        return lhttp.HttpResponseHeadersHook(f)

    return [
        lambda: lhttp.HttpRequestHeadersHook(f),
        lambda: lhttp.HttpRequestHook(f),
        response_headers,
        lambda: lhttp.HttpResponseHook(f),
    ]


Cost = tuple[float, float]  # (loop thread, whole process) CPU seconds per item


async def run_dispatch(master: Any, flows: int) -> Cost:
    """Mean CPU seconds per flow through `master.addons.handle_lifecycle`."""
    t, p = time.thread_time(), time.process_time()
    for _ in range(flows):
        for make in hook_events(make_flow()):
            await master.addons.handle_lifecycle(make())
    return (time.thread_time() - t) / flows, (time.process_time() - p) / flows


async def run_direct(funcs: dict[str, list[Callable[..., Any]]], flows: int) -> Cost:
    t, p = time.thread_time(), time.process_time()
    for _ in range(flows):
        f = make_flow()
        for ev in EVENTS:
            if ev == "responseheaders":
                respond(f)
            for fn in funcs[ev]:
                res = fn(f)
                if res is not None and inspect.isawaitable(res):
                    await res
    return (time.thread_time() - t) / flows, (time.process_time() - p) / flows


async def run_update(master: Any, events: int) -> float:
    from mitmproxy import hooks

    f = make_flow()
    start = time.thread_time()
    for _ in range(events):
        await master.addons.trigger_event(hooks.UpdateHook([f]))
    return (time.thread_time() - start) / events


async def main(flows: int, rounds: int, persist: bool) -> None:
    from mitmproxy import addonmanager

    from ccproxy import mitm_compat as compat

    tmp = Path(tempfile.mkdtemp(prefix="ccproxy-dispatch-"))
    daemon, master = build_master(persist, tmp)
    manager = master.addons
    stock_cls, indexed_cls = addonmanager.AddonManager, compat.HookIndexedAddonManager
    if type(manager) is not indexed_cls:
        sys.exit("bench.dispatch_cost: the daemon's master does not use HookIndexedAddonManager")
    counts = implementers(master)
    tops = len(manager.chain)
    total = sum(1 for _ in addonmanager.traverse(manager.chain))
    funcs = {
        ev: [fn for top in manager.chain for a in addonmanager.traverse([top]) if callable(fn := getattr(a, ev, None))]
        for ev in EVENTS
    }

    def use(cls: type) -> None:
        manager.__class__ = cls
        if cls is indexed_cls:
            manager.invalidate()

    async def through(cls: type) -> Cost:
        use(cls)
        return await run_dispatch(master, flows)

    ways: dict[str, Callable[[], Awaitable[Cost]]] = {
        "stock": lambda: through(stock_cls),
        "indexed": lambda: through(indexed_cls),
        "direct": lambda: run_direct(funcs, flows),
    }
    for way in ways.values():  # warm-up: caches, the store's first pages
        await way()
    samples: dict[str, list[Cost]] = {k: [] for k in ways}
    update: dict[str, list[float]] = {"stock": [], "indexed": []}
    for r in range(rounds):
        order = list(ways) if r % 2 == 0 else list(reversed(ways))
        for name in order:
            samples[name].append(await ways[name]())
        for name, cls in (("stock", stock_cls), ("indexed", indexed_cls)):
            use(cls)
            update[name].append(await run_update(master, flows * 4))
    use(indexed_cls)
    await asyncio.to_thread(daemon.ctx.store.close)

    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(
        f"# hook dispatch over the daemon's master: {tops} top-level addons ({total} with sub-addons), "
        f"{rounds} rounds x {flows} flows, store {'on' if persist else 'off (persist: false)'}, load {load}"
    )
    print("\n| hook | addons implementing it |\n|---|---|")
    for name, found in counts.items():
        print(f"| {name} | {len(found)}: {', '.join(found) or '-'} |")
    loop = {k: statistics.median(c[0] for c in v) for k, v in samples.items()}
    proc = {k: statistics.median(c[1] for c in v) for k, v in samples.items()}
    print(
        "\n| way | loop-thread CPU µs/flow | dispatch overhead µs (way - direct) | ÷ stock"
        " | process CPU µs/flow (writer incl.) | ÷ stock |"
    )
    print("|---|---|---|---|---|---|")
    for name in samples:
        over = f"{(loop[name] - loop['direct']) * 1e6:.1f}" if name != "direct" else "-"
        print(
            f"| {name} | {loop[name] * 1e6:.1f} | {over} | {loop[name] / loop['stock']:.2f}"
            f" | {proc[name] * 1e6:.1f} | {proc[name] / proc['stock']:.2f} |"
        )
    over_s, over_i = loop["stock"] - loop["direct"], loop["indexed"] - loop["direct"]
    print(f"\ndispatch overhead per flow: stock {over_s * 1e6:.1f} µs, indexed {over_i * 1e6:.1f} µs")
    us, ui = statistics.median(update["stock"]), statistics.median(update["indexed"])
    print(f"\none `update` event (0 implementers): stock {us * 1e6:.2f} µs, indexed {ui * 1e6:.2f} µs")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flows", type=int, default=2000, help="flows per block")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--no-persist", action="store_true", help="flows.persist: false (less writer-thread noise)")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    asyncio.run(main(args.flows, args.rounds, not args.no_persist))
