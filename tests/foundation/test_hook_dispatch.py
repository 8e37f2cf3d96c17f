"""The hook-indexed AddonManager (mitm_compat.index_hooks) against mitmproxy's own, call for call.

Every scenario runs twice on a fresh real mitmproxy Master: once with the stock AddonManager,
once with the indexed one. The oracle is the stock run: the same hook calls in the same order,
the same "Addon error" records (message and traceback frames), the same exceptions raised.
"""

from __future__ import annotations

import asyncio
import logging
import types
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import addonmanager, exceptions, hooks, options
from mitmproxy.master import Master
from mitmproxy.proxy.layers import http as lhttp
from mitmproxy.test import tflow

from ccproxy import mitm_compat as compat

Log = list[str]
Scenario = Callable[[Master, Log], Awaitable[None]]


class Probe:
    """An addon whose hooks record `name.hook` in a shared log, then do what `spec` says:
    "sync", "async", "raise", "raise_async", "halt", "options_error"."""

    def __init__(self, name: str, log: Log, **spec: str) -> None:
        self.name = name
        for hook, how in spec.items():
            setattr(self, hook, _hook(log, f"{name}.{hook}", how))

    def __repr__(self) -> str:  # error messages name the addon: the same in both runs
        return f"<{self.name}>"


def _hook(log: Log, label: str, how: str) -> Callable[..., Any]:
    def sync_hook(*args: Any) -> None:
        log.append(label)
        if how == "raise":
            raise ValueError(f"boom in {label}")
        if how == "halt":
            raise exceptions.AddonHalt()
        if how == "options_error":
            raise exceptions.OptionsError(f"bad option in {label}")

    async def async_hook(*args: Any) -> None:
        await asyncio.sleep(0)
        log.append(label)
        if how == "raise_async":
            raise ValueError(f"boom in {label}")

    return async_hook if how in ("async", "raise_async") else sync_hook


class Parent(Probe):
    def __init__(self, name: str, log: Log, children: list[Any], **spec: str) -> None:
        super().__init__(name, log, **spec)
        self.addons = children


class Recorder:
    """A class-based addon (methods, not instance attributes), as real addons are."""

    def __init__(self, log: Log) -> None:
        self.log = log

    def request(self, flow: Any) -> None:
        self.log.append("recorder.request")

    async def response(self, flow: Any) -> None:
        self.log.append("recorder.response")

    def update(self, flows: list[Any]) -> None:
        self.log.append(f"recorder.update({len(flows)})")


def request(master: Master) -> Awaitable[None]:
    return master.addons.trigger_event(lhttp.HttpRequestHook(tflow.tflow()))


# ---- scenarios -------------------------------------------------------------------------------


async def plain_chain(m: Master, log: Log) -> None:
    m.addons.add(
        Probe("a", log, request="sync"),
        Probe("b", log),
        Probe("c", log, request="async", response="sync"),
        Recorder(log),
        Probe("d", log, response="async", running="sync"),
    )
    f = tflow.tflow(resp=True)
    await m.addons.trigger_event(lhttp.HttpRequestHook(f))
    await m.addons.trigger_event(lhttp.HttpResponseHook(f))
    await m.addons.trigger_event(hooks.RunningHook())
    await m.addons.trigger_event(hooks.UpdateHook([f]))


async def sub_addons(m: Master, log: Log) -> None:
    inner = Parent("r", log, [Probe("s", log, request="sync")], request="sync")
    m.addons.add(
        Probe("first", log, request="sync"),
        Parent("p", log, [Probe("q", log, request="async"), inner]),
        Probe("t", log, request="sync"),
    )
    await request(m)


async def errors(m: Master, log: Log) -> None:
    module_named = Probe("mod", log)
    module_named.request = types  # type: ignore[attr-defined]  # a module named like the hook: skipped
    not_callable = Probe("num", log)
    not_callable.request = 42  # type: ignore[attr-defined]
    falsy = Probe("none", log)
    falsy.request = None  # type: ignore[attr-defined]
    m.addons.add(
        Probe("a", log, request="raise"),
        Probe("b", log, request="sync"),
        Parent("p", log, [Probe("q", log, request="raise"), Probe("r", log, request="sync")]),
        module_named,
        not_callable,
        falsy,
        Probe("late", log, request="raise_async"),
        Probe("z", log, request="sync"),
    )
    await request(m)
    await request(m)


async def halt(m: Master, log: Log) -> None:
    m.addons.add(
        Probe("a", log, request="sync", response="sync"),
        Parent("p", log, [Probe("q", log, request="halt"), Probe("r", log, request="sync")]),
        Probe("c", log, request="sync", response="sync"),
    )
    await request(m)
    await m.addons.trigger_event(lhttp.HttpResponseHook(tflow.tflow(resp=True)))
    m.addons.trigger(lhttp.HttpRequestHook(tflow.tflow()))  # the sync path halts too


async def options_error(m: Master, log: Log) -> None:
    m.addons.add(Probe("a", log, configure="sync", request="sync"), Probe("b", log, configure="options_error"))
    m.addons.add(Probe("c", log, configure="sync", request="options_error"), Probe("d", log, request="sync"))
    try:
        m.addons.trigger(hooks.ConfigureHook({"x"}))
    except exceptions.OptionsError as e:
        log.append(f"raised OptionsError: {e}")
    try:
        await request(m)
    except exceptions.OptionsError as e:
        log.append(f"raised OptionsError: {e}")


async def sync_trigger(m: Master, log: Log) -> None:
    m.addons.add(
        Probe("a", log, configure="sync"),
        Probe("b", log, configure="async"),  # refused in a sync context: an Addon error
        Parent("p", log, [Probe("q", log, configure="sync"), Probe("r", log, configure="raise")]),
        Probe("c", log, configure="sync"),
    )
    m.addons.trigger(hooks.ConfigureHook({"x"}))
    m.options.update(listen_port=1234)  # the options' own signal: configure through `trigger`


async def add_and_remove_between_events(m: Master, log: Log) -> None:
    a = Probe("a", log, request="sync")
    m.addons.add(a, Probe("b", log, request="sync"))
    await request(m)
    m.addons.add(Probe("e", log, request="async", done="sync"))
    await request(m)
    m.addons.remove(a)
    await request(m)
    m.addons.add(Parent("p", log, [Probe("q", log, request="sync")]))
    await request(m)
    m.addons.clear()
    await request(m)
    m.addons.add(Probe("after_clear", log, request="sync"))
    await request(m)


async def add_during_event(m: Master, log: Log) -> None:
    a = Probe("a", log)

    def add_one(flow: Any) -> None:
        log.append("a.request (adds x)")
        m.addons.add(Probe("x", log, request="sync", load="sync"))

    a.request = add_one  # type: ignore[attr-defined]
    m.addons.add(a, Probe("b", log), Probe("c", log, request="sync"))
    await request(m)
    await request(m)


async def remove_during_event(m: Master, log: Log) -> None:
    c = Probe("c", log, request="async", done="sync")
    a = Probe("a", log)

    async def remove_c(flow: Any) -> None:
        log.append("a.request (removes c)")
        if c in m.addons:
            m.addons.remove(c)

    a.request = remove_c  # type: ignore[attr-defined]
    m.addons.add(a, Probe("b", log, request="sync"), c, Probe("d", log, request="sync"))
    await request(m)  # stock iterates the list it began with: c still hears this one
    await request(m)


async def sub_addon_registered_during_event(m: Master, log: Log) -> None:
    """An addon managing its own sub-addons, as mitmproxy's ScriptLoader does."""
    parent = Parent("p", log, [])

    def grow(flow: Any) -> None:
        log.append("p.request (grows)")
        child = Probe(f"k{len(parent.addons)}", log, request="sync")
        m.addons.register(child)
        parent.addons.append(child)

    parent.request = grow  # type: ignore[attr-defined]
    m.addons.add(Probe("a", log, request="sync"), parent, Probe("z", log, request="sync"))
    await request(m)
    await request(m)
    parent.addons = parent.addons[::-1]  # reordered without register (ScriptLoader does this)
    await request(m)


async def hook_replaced_at_run_time(m: Master, log: Log) -> None:
    rec = Recorder(log)
    m.addons.add(rec, Probe("b", log, request="sync"))
    await request(m)
    rec.request = lambda flow: log.append("replaced.request")  # type: ignore[method-assign]
    await request(m)
    rec.request = None  # type: ignore[assignment,method-assign]  # now falsy: skipped
    await request(m)


async def lifecycle(m: Master, log: Log) -> None:
    m.addons.add(Probe("a", log, request="sync", client_connected="sync"))
    f = tflow.tflow()
    await m.addons.handle_lifecycle(lhttp.HttpRequestHook(f))  # nobody implements update
    await m.addons.handle_lifecycle(hooks.ConfigureHook({"x"}))  # not a flow: no update
    m.addons.add(Recorder(log))
    await m.addons.handle_lifecycle(lhttp.HttpRequestHook(f))
    await m.addons.handle_lifecycle(lhttp.HttpResponseHook(tflow.tflow(resp=True)))


SCENARIOS: list[Scenario] = [
    plain_chain,
    sub_addons,
    errors,
    halt,
    options_error,
    sync_trigger,
    add_and_remove_between_events,
    add_during_event,
    remove_during_event,
    sub_addon_registered_during_event,
    hook_replaced_at_run_time,
    lifecycle,
]


class _Errors(logging.Handler):
    def __init__(self, log: Log) -> None:
        super().__init__(logging.DEBUG)
        self.out = log

    def emit(self, record: logging.LogRecord) -> None:
        frames = []
        tb = record.exc_info[2] if record.exc_info else None
        while tb is not None:
            frames.append(tb.tb_frame.f_code.co_name)
            tb = tb.tb_next
        self.out.append(f"{record.levelname} {record.getMessage()} {frames}")


async def run(scenario: Scenario, indexed: bool) -> Log:
    master = Master(options.Options(), event_loop=asyncio.get_running_loop(), with_termlog=False)
    compat.drop_legacy_log_events(master)
    if indexed:
        assert compat.index_hooks(master)
        assert type(master.addons) is compat.HookIndexedAddonManager
    log: Log = []
    handler = _Errors(log)
    am_log = logging.getLogger("mitmproxy.addonmanager")
    am_log.addHandler(handler)
    try:
        await scenario(master, log)
    finally:
        am_log.removeHandler(handler)
    return log


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_indexed_dispatch_matches_mitmproxys(scenario: Scenario) -> None:
    stock = await run(scenario, indexed=False)
    indexed = await run(scenario, indexed=True)
    assert stock, "the scenario called nothing: it cannot tell the two apart"
    assert indexed == stock


async def test_the_oracle_shows_what_it_is_meant_to() -> None:
    """Spot checks on stock's own behaviour, so that the comparisons above compare something."""
    log = await run(errors, indexed=False)
    first = log[: log.index("z.request") + 1]
    assert first[:2] == ["a.request", "ERROR Addon error: boom in a.request ['sync_hook']"]
    assert "r.request" not in log  # after its sibling raised, under one top-level safecall
    assert any("Addon handler request" in line and "not callable" in line for line in first)
    assert "late.request" in first and first[-1] == "z.request"
    halted = await run(halt, indexed=False)
    assert halted[:2] == ["a.request", "q.request"] and "c.request" not in halted[:3]
    removed = await run(remove_during_event, indexed=False)
    assert removed.count("c.request") == 1 and removed.count("c.done") == 1
    added = await run(add_during_event, indexed=False)
    assert added[:4] == ["a.request (adds x)", "x.load", "c.request", "x.request"]
    grown = await run(sub_addon_registered_during_event, indexed=False)
    assert grown[:4] == ["a.request", "p.request (grows)", "k0.request", "z.request"]


class _CountsLookups:
    """An addon without hooks that counts how often dispatch asks it for one."""

    def __init__(self) -> None:
        self.lookups = 0

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("__"):
            self.lookups += 1
        raise AttributeError(name)


async def test_events_skip_addons_without_the_hook() -> None:
    counts: dict[bool, int] = {}
    for indexed in (False, True):
        master = Master(options.Options(), event_loop=asyncio.get_running_loop(), with_termlog=False)
        compat.drop_legacy_log_events(master)
        if indexed:
            compat.index_hooks(master)
        probe = _CountsLookups()
        master.addons.add(probe)
        before = probe.lookups
        for _ in range(50):
            await request(master)
        counts[indexed] = probe.lookups - before
    assert counts[False] >= 100  # stock: `addons` and `request` for every event
    assert counts[True] <= 2  # indexed: once, when the plan for `request` is made


async def test_index_hooks_only_swaps_mitmproxys_own_manager() -> None:
    master = Master(options.Options(), event_loop=asyncio.get_running_loop(), with_termlog=False)
    compat.drop_legacy_log_events(master)
    assert compat.index_hooks(master)
    assert not compat.index_hooks(master)  # already swapped
    assert isinstance(master.addons, addonmanager.AddonManager)


async def test_the_daemon_master_uses_the_indexed_manager(tmp_path: Path) -> None:
    from ccproxy.config.loader import parse_config
    from ccproxy.daemon.master import Daemon

    daemon = Daemon(parse_config({"ccproxy": {}}, tmp_path))
    try:
        master = daemon._build(asyncio.get_running_loop())
        assert type(master.addons) is compat.HookIndexedAddonManager
        assert master.addons.get("proxyserver") is not None and len(master.addons) > 20
    finally:
        await asyncio.to_thread(daemon.ctx.store.close)
