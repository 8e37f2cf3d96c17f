"""Execution: concurrency within a level, error isolation, AuthConfigError, guards, overrides."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import pytest
from mitmproxy import http

from ccproxy.pipeline import Pipeline
from ccproxy.providers.errors import AuthConfigError

FlowFactory = Callable[..., http.HTTPFlow]
ModuleWriter = Callable[[str], str]

SLEEPERS = """
import asyncio, time
from ccproxy.pipeline import hook

@hook(writes=["metadata.a_done"])
async def sleeper_a(ctx):
    ctx.set("metadata.a_start", time.perf_counter())
    await asyncio.sleep(0.3)
    ctx.set("metadata.a_done", time.perf_counter())

@hook(writes=["metadata.b_done"])
async def sleeper_b(ctx):
    ctx.set("metadata.b_start", time.perf_counter())
    await asyncio.sleep(0.3)
    ctx.set("metadata.b_done", time.perf_counter())

@hook(reads=["metadata.a_done", "metadata.b_done"], writes=["metadata.after"])
def after(ctx):
    ctx.set("metadata.after", time.perf_counter())
"""


async def test_independent_hooks_overlap(user_module: ModuleWriter, flow_factory: FlowFactory) -> None:
    mod = user_module(SLEEPERS)
    p = Pipeline.from_config("inbound", [f"{mod}.after", f"{mod}.sleeper_a", f"{mod}.sleeper_b"])
    assert [[h.name for h in lvl] for lvl in p.levels] == [["sleeper_a", "sleeper_b"], ["after"]]
    flow = flow_factory({})
    start = time.perf_counter()
    await p.run(flow)
    elapsed = time.perf_counter() - start
    m = flow.metadata
    # Both sleeps started before either finished: they really ran at the same time.
    assert m["ccproxy.a_start"] < m["ccproxy.b_done"] and m["ccproxy.b_start"] < m["ccproxy.a_done"]
    assert m["ccproxy.after"] >= max(m["ccproxy.a_done"], m["ccproxy.b_done"])
    assert elapsed < 0.55, f"two 0.3 s hooks at one level took {elapsed:.3f} s"


FAILING = """
from ccproxy.pipeline import hook
from ccproxy.providers.errors import AuthConfigError

@hook(writes=["request.model"])
def boom(ctx):
    ctx.set("request.model", "half-written")
    raise RuntimeError("kaput")

@hook(writes=["request.headers.x-ok"])
async def async_boom(ctx):
    raise KeyError("gone")

@hook(writes=["messages"])
def fine(ctx):
    ctx.messages.append({"role": "user", "content": "added"})

@hook(writes=["metadata.auth"])
def no_creds(ctx):
    raise AuthConfigError("provider 'x': command exited 1", provider="x", status=502)

def _explode(ctx):
    raise ValueError("bad guard")

@hook(writes=["metadata.guarded"], guard=_explode)
def guarded_by_broken_guard(ctx):
    ctx.set("metadata.guarded", True)
"""


async def test_exception_is_logged_and_flow_continues(
    user_module: ModuleWriter, flow_factory: FlowFactory, caplog: pytest.LogCaptureFixture
) -> None:
    mod = user_module(FAILING)
    p = Pipeline.from_config(
        "outbound", [f"{mod}.boom", f"{mod}.async_boom", f"{mod}.fine", f"{mod}.guarded_by_broken_guard"]
    )
    flow = flow_factory({"model": "m", "messages": []})
    with caplog.at_level(logging.ERROR, logger="ccproxy.pipeline"):
        await p.run(flow)
    body = json.loads(flow.request.content or b"")
    assert body["messages"] == [{"role": "user", "content": "added"}]
    assert body["model"] == "half-written"  # what a hook wrote before failing stays, like any write
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for name, err in [
        ("boom", "RuntimeError: kaput"),
        ("async_boom", "KeyError"),
        ("guarded_by", "bad guard"),
    ]:
        assert f"hook {name}" in logged and err in logged
    assert logged.count(flow.id) == 3
    errors = flow.metadata["ccproxy.hook_errors"]
    assert sorted(e["hook"] for e in errors) == ["async_boom", "boom", "guarded_by_broken_guard"]
    assert "ccproxy.guarded" not in flow.metadata


async def test_auth_config_error_propagates(user_module: ModuleWriter, flow_factory: FlowFactory) -> None:
    mod = user_module(FAILING)
    p = Pipeline.from_config("inbound", [f"{mod}.no_creds", f"{mod}.fine"])
    with pytest.raises(AuthConfigError, match="command exited 1") as err:
        await p.run(flow_factory({"messages": []}))
    assert err.value.provider == "x"


async def test_auth_config_error_propagates_from_concurrent_level(
    user_module: ModuleWriter, flow_factory: FlowFactory
) -> None:
    mod = user_module(
        FAILING
        + """
@hook(writes=["metadata.slow"])
async def slow_ok(ctx):
    ctx.set("metadata.slow", 1)

@hook(writes=["metadata.auth2"])
async def async_no_creds(ctx):
    raise AuthConfigError("nope")
"""
    )
    p = Pipeline.from_config("inbound", [f"{mod}.slow_ok", f"{mod}.async_no_creds"])
    assert len(p.levels) == 1
    flow = flow_factory({})
    with pytest.raises(AuthConfigError, match="nope"):
        await p.run(flow)
    assert flow.metadata["ccproxy.slow"] == 1


GUARDED = """
from ccproxy.pipeline import hook

calls = []

@hook(writes=["request.model"], guard=lambda ctx: ctx.request.path.startswith("/v1/messages"))
def only_messages(ctx):
    calls.append(ctx.flow_id)
    ctx.model = "rewritten"
"""


@pytest.mark.parametrize(("path", "runs"), [("/v1/messages", True), ("/v1/chat/completions", False)])
async def test_guard_skips_cheaply(user_module: ModuleWriter, flow_factory: FlowFactory, path: str, runs: bool) -> None:
    mod = user_module(GUARDED)
    p = Pipeline.from_config("inbound", [mod])
    flow = flow_factory({"model": "m"}, path=path)
    raw = flow.request.content
    await p.run(flow)
    calls = __import__(mod).calls
    assert (flow.id in calls) is runs
    if runs:
        assert json.loads(flow.request.content or b"")["model"] == "rewritten"
    else:
        assert flow.request.content == raw


TAGGERS = """
from ccproxy.pipeline import hook

@hook(writes=["request.headers.x-tag-a"])
def tag_a(ctx):
    ctx.set("request.headers.x-tag-a", "1")

@hook(writes=["request.headers.x-tag-b"])
def tag_b(ctx):
    ctx.set("request.headers.x-tag-b", "1")

@hook(writes=["request.headers.x-tag-c"])
def tag_c(ctx):
    ctx.set("request.headers.x-tag-c", "1")
"""


@pytest.mark.parametrize(
    ("header", "tags"),
    [
        (None, {"a", "b"}),
        ("-tag_a", {"b"}),
        ("+tag_c", {"a", "b", "c"}),
        ("+tag_c, -tag_a,-tag_b", {"c"}),
        ("tag_c", {"a", "b", "c"}),
        ("+tag_c,-tag_c", {"a", "b"}),
        ("+no_such_hook", {"a", "b"}),
        ("", {"a", "b"}),
    ],
)
async def test_override_header(
    user_module: ModuleWriter, flow_factory: FlowFactory, header: str | None, tags: set[str]
) -> None:
    mod = user_module(TAGGERS)
    p = Pipeline.from_config("outbound", [f"{mod}.tag_a", f"{mod}.tag_b", {"hook": f"{mod}.tag_c", "enabled": False}])
    flow = flow_factory({}, headers={} if header is None else {"x-ccproxy-hooks": header})
    await p.run(flow)
    assert {k[len("x-tag-") :] for k in flow.request.headers if k.startswith("x-tag-")} == tags
    assert "x-ccproxy-hooks" not in flow.request.headers


async def test_override_header_reaches_the_later_stage(user_module: ModuleWriter, flow_factory: FlowFactory) -> None:
    mod = user_module(TAGGERS)
    inbound = Pipeline.from_config("inbound", [f"{mod}.tag_a"])
    outbound = Pipeline.from_config("outbound", [f"{mod}.tag_b", {"hook": f"{mod}.tag_c", "enabled": False}])
    flow = flow_factory({}, headers={"x-ccproxy-hooks": "-tag_a,+tag_c,-tag_b"})
    await inbound.run(flow)
    assert "x-ccproxy-hooks" not in flow.request.headers
    await outbound.run(flow)
    assert sorted(k for k in flow.request.headers if k.startswith("x-tag-")) == ["x-tag-c"]
    assert flow.metadata["ccproxy.hook_overrides"] == {"enable": ["tag_c"], "disable": ["tag_a", "tag_b"]}


async def test_override_by_dotted_path(user_module: ModuleWriter, flow_factory: FlowFactory) -> None:
    mod = user_module(TAGGERS)
    p = Pipeline.from_config("outbound", [f"{mod}.tag_a", f"{mod}.tag_b"])
    flow = flow_factory({}, headers={"x-ccproxy-hooks": f"-{mod}.tag_a"})
    await p.run(flow)
    assert "x-tag-a" not in flow.request.headers and "x-tag-b" in flow.request.headers


RESPONDER = """
from ccproxy.pipeline import hook

@hook(reads=["request.model"])
def note_model(ctx, *, suffix: str = "!"):
    ctx.set("metadata.seen_model", ctx.model)

@note_model.on_response(reads=["response.body"], writes=["response.body.note"])
def stamp(ctx, *, suffix: str = "!"):
    ctx.set("response.body.note", str(ctx.get("metadata.seen_model")) + suffix)
"""


async def test_response_handler(user_module: ModuleWriter, flow_factory: FlowFactory) -> None:
    mod = user_module(RESPONDER)
    p = Pipeline.from_config("outbound", [{"hook": mod, "params": {"suffix": "?"}}])
    flow = flow_factory({"model": "m1"})
    await p.run(flow)
    flow.response = http.Response.make(200, b'{"id": "r"}', {"content-type": "application/json"})
    await p.run_response(flow)
    assert json.loads(flow.response.content or b"") == {"id": "r", "note": "m1?"}


async def test_cancelling_the_run_cancels_running_hooks(user_module: ModuleWriter, flow_factory: FlowFactory) -> None:
    import asyncio

    mod = user_module(
        """
import asyncio
from ccproxy.pipeline import hook

state = {"cancelled": 0}

async def _sleep(ctx):
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        state["cancelled"] += 1
        raise

long_a = hook(name="long_a", writes=["metadata.a"])(_sleep)
long_b = hook(name="long_b", writes=["metadata.b"])(_sleep)
"""
    )
    p = Pipeline.from_config("inbound", [f"{mod}.long_a", f"{mod}.long_b"])
    task = asyncio.create_task(p.run(flow_factory({})))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    assert __import__(mod).state["cancelled"] == 2
