"""Context reads and writes on real mitmproxy flows."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from mitmproxy import http
from mitmproxy.test import tflow

from ccproxy.pipeline import Context, ContextError, Pipeline
from ccproxy.pipeline import context as context_mod

FlowFactory = Callable[..., http.HTTPFlow]

BODY = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 64,
    "system": "be brief",
    "messages": [{"role": "user", "content": "hi"}],
    "tools": [{"name": "t", "input_schema": {"type": "object"}}],
    "metadata": {"user_id": "u-1"},
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("request.model", "claude-sonnet-4-5"),
        ("model", "claude-sonnet-4-5"),
        ("request.body.max_tokens", 64),
        ("messages.0.content", "hi"),
        ("system", "be brief"),
        ("tools.0.name", "t"),
        ("request.body.metadata.user_id", "u-1"),
        ("request.path", "/v1/messages"),
        ("request.method", "POST"),
        ("request.host", "api.anthropic.com"),
        ("request.headers.Anthropic-Version", "2023-06-01"),
        ("request.headers.missing", None),
        ("request.body.nope.deeper", None),
        ("messages.5", None),
        ("provider", "anthropic"),
        ("metadata.provider", "anthropic"),
        ("response.status_code", None),
    ],
)
def test_reads(flow_factory: FlowFactory, path: str, expected: Any) -> None:
    flow = flow_factory(BODY, headers={"anthropic-version": "2023-06-01"})
    flow.metadata["ccproxy.provider"] = "anthropic"
    assert Context(flow).get(path) == expected


def test_typed_accessors(flow_factory: FlowFactory) -> None:
    flow = flow_factory(BODY)
    flow.metadata["ccproxy.session_id"] = "s1"
    flow.metadata["other"] = "not ours"
    ctx = Context(flow)
    assert ctx.model == "claude-sonnet-4-5"
    assert ctx.messages == BODY["messages"]
    assert ctx.system == "be brief"
    assert ctx.tools == BODY["tools"]
    assert dict(ctx.metadata) == {"session_id": "s1"}
    assert ctx.flow_id == flow.id
    assert ctx.get("metadata") == {"session_id": "s1"}


def test_body_writes_land_once_at_commit(flow_factory: FlowFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    flow = flow_factory(BODY)
    original = flow.request.content
    dumps_calls: list[Any] = []
    real_dumps = json.dumps

    def counting_dumps(obj: Any, **kw: Any) -> str:
        dumps_calls.append(obj)
        return real_dumps(obj, **kw)

    monkeypatch.setattr(context_mod.json, "dumps", counting_dumps)
    ctx = Context(flow)
    ctx.set("request.model", "claude-haiku-4-5")
    ctx.set("messages.0.content", "hello")
    ctx.set("request.body.metadata.extra.deep", True)
    ctx.messages.append({"role": "assistant", "content": "x"})  # type: ignore[union-attr]
    assert flow.request.content == original, "body must not be re-serialised per write"
    assert ctx.commit() is True
    assert len(dumps_calls) == 1
    sent = json.loads(flow.request.content or b"")
    assert sent["model"] == "claude-haiku-4-5"
    assert sent["messages"][0]["content"] == "hello"
    assert sent["messages"][1] == {"role": "assistant", "content": "x"}
    assert sent["metadata"] == {"user_id": "u-1", "extra": {"deep": True}}
    assert flow.request.headers["content-length"] == str(len(flow.request.content or b""))
    assert ctx.commit() is False


def test_no_write_no_reserialisation(flow_factory: FlowFactory) -> None:
    raw = b'{"model":  "m",\n "messages": []}'
    flow = flow_factory(raw=raw)
    ctx = Context(flow)
    assert ctx.get("model") == "m"
    assert ctx.commit() is False
    assert flow.request.content == raw


def test_header_url_and_metadata_writes_are_immediate(flow_factory: FlowFactory) -> None:
    flow = flow_factory(BODY, headers={"anthropic-beta": "a,b"})
    ctx = Context(flow)
    ctx.set("request.headers.Anthropic-Beta", "c")
    ctx.set("request.headers.x-new", "1")
    ctx.set("request.path", "/v1/other")
    ctx.set("request.host", "example.invalid")
    ctx.set("metadata.session_id", "abc")
    ctx.set("metadata.transform.rule", 3)
    ctx.delete("request.headers.x-new")
    assert flow.request.headers["anthropic-beta"] == "c"
    assert "x-new" not in flow.request.headers
    assert flow.request.path == "/v1/other"
    assert flow.request.host == "example.invalid"
    assert flow.metadata["ccproxy.session_id"] == "abc"
    assert flow.metadata["ccproxy.transform"] == {"rule": 3}
    ctx.set("request.headers.anthropic-beta", None)
    assert "anthropic-beta" not in flow.request.headers


def test_delete_body_field(flow_factory: FlowFactory) -> None:
    flow = flow_factory(BODY)
    ctx = Context(flow)
    ctx.delete("request.body.metadata")
    ctx.delete("request.body.absent")
    ctx.commit()
    assert "metadata" not in json.loads(flow.request.content or b"")


def test_gzip_body_is_decoded_and_reencoded(flow_factory: FlowFactory) -> None:
    flow = flow_factory(BODY, headers={"content-encoding": "gzip"})
    flow.request.content = json.dumps(BODY).encode()  # the setter gzips per content-encoding
    assert flow.request.raw_content != flow.request.content
    ctx = Context(flow)
    assert ctx.model == "claude-sonnet-4-5"
    ctx.model = "other"
    ctx.commit()
    assert json.loads(flow.request.get_content() or b"")["model"] == "other"


@pytest.mark.parametrize(
    ("raw", "path", "message"),
    [
        (b"not json", "request.model", "request body is not a JSON object"),
        (b"", "messages", "request body is not a JSON object"),
        (b"{}", "flow.id", "flow.id is read-only"),
    ],
)
def test_bad_writes(flow_factory: FlowFactory, raw: bytes, path: str, message: str) -> None:
    ctx = Context(flow_factory(raw=raw))
    with pytest.raises(ContextError, match=message):
        ctx.set(path, "x")


def test_response_paths() -> None:
    flow = tflow.tflow(resp=True)
    flow.response = http.Response.make(
        200, json.dumps({"content": [{"type": "text", "text": "yo"}]}), {"content-type": "application/json"}
    )
    ctx = Context(flow, "response")
    assert ctx.get("response.status_code") == 200
    assert ctx.get("response.headers.Content-Type") == "application/json"
    assert ctx.get("response.body.content.0.text") == "yo"
    ctx.set("response.body.content.0.text", "YO")
    ctx.set("response.headers.x-extra", "1")
    ctx.commit()
    assert json.loads(flow.response.content or b"")["content"][0]["text"] == "YO"
    assert flow.response.headers["x-extra"] == "1"


def test_response_write_without_response_fails(flow_factory: FlowFactory) -> None:
    with pytest.raises(ContextError, match="no response yet"):
        Context(flow_factory(BODY)).set("response.body.x", 1)


DOC = {"a": {"b": [10, {"c": "x"}], "0": "zero"}, "l": [[1, 2], {"k": None}]}


@pytest.mark.parametrize("path", ["a", "a.b", "a.b.0", "a.b.1.c", "a.b.-1.c", "a.0", "l.0.1", "l.1.k", "a.b.7", "zz.y"])
def test_path_get_matches_glom(path: str) -> None:
    import glom

    missing = object()
    ours = context_mod.path_get(DOC, path)
    expected = glom.glom(DOC, path, default=missing)
    assert (ours is context_mod._MISSING and expected is missing) or ours == expected


@pytest.mark.parametrize("path", ["a.new", "a.b.1.c", "x.y.z", "l.0.1", "a.b.0"])
def test_path_set_matches_glom(path: str) -> None:
    import copy

    import glom

    ours, theirs = copy.deepcopy(DOC), copy.deepcopy(DOC)
    context_mod.path_set(ours, path, "V")
    glom.assign(theirs, path, "V", missing=dict)
    assert ours == theirs


@pytest.mark.parametrize(("path", "gone"), [("a.b.1.c", True), ("l.0.0", True), ("a.nope", False), ("q.r", False)])
def test_path_delete(path: str, gone: bool) -> None:
    import copy

    doc = copy.deepcopy(DOC)
    assert context_mod.path_delete(doc, path) is gone
    assert (doc != DOC) is gone


async def test_declared_but_unused_write_keeps_the_bytes(
    flow_factory: FlowFactory, user_module: Callable[[str], str]
) -> None:
    m = user_module(
        """
        from ccproxy.pipeline import hook

        @hook(reads=["request.model"], writes=["request.model"])
        def maybe_rewrite(ctx):
            if ctx.model == "never":
                ctx.model = "x"

        @hook(writes=["messages"])
        def in_place(ctx):
            ctx.messages.append({"role": "user", "content": "more"})
        """
    )
    raw = b'{"model": "m",  "messages": []}'
    flow = flow_factory(raw=raw)
    await Pipeline.from_config("outbound", [f"{m}.maybe_rewrite"]).run(flow)
    assert flow.request.content == raw
    await Pipeline.from_config("outbound", [f"{m}.in_place"]).run(flow)
    assert json.loads(flow.request.content or b"")["messages"] == [{"role": "user", "content": "more"}]
