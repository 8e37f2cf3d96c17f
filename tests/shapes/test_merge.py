"""The merge strategies and header rules of shape application (pure functions)."""

from __future__ import annotations

from typing import Any

import pytest

from ccproxy.shapes.merge import (
    Strategy,
    client_family,
    fresh_value,
    merge_query,
    set_dotted,
    shape_body,
    shape_headers,
)

SHAPE_SYSTEM = [{"type": "text", "text": "billing block"}, {"type": "text", "text": "identity"}]


@pytest.mark.parametrize(
    ("field", "strategy", "shape", "incoming", "expected"),
    [
        # replace: the incoming value; absent there, the shape's is dropped too
        ("messages", "replace", {"messages": [1]}, {"messages": [2]}, {"messages": [2]}),
        ("tools", "replace", {"tools": [{"name": "shape_tool"}]}, {}, {}),
        # drop: gone whatever either side holds
        ("metadata", "drop", {"metadata": {"a": 1}}, {"metadata": {"b": 2}}, {}),
        # prepend_shape: shape first; a string merged with an array becomes a text block
        (
            "system",
            "prepend_shape",
            {"system": SHAPE_SYSTEM},
            {"system": "be brief"},
            {"system": [*SHAPE_SYSTEM, {"type": "text", "text": "be brief"}]},
        ),
        (
            "system",
            "prepend_shape",
            {"system": "shape says"},
            {"system": "client says"},
            {"system": "shape says\n\nclient says"},
        ),
        ("system", "prepend_shape", {"system": SHAPE_SYSTEM}, {}, {"system": SHAPE_SYSTEM}),
        # append_shape: incoming first
        (
            "system",
            "append_shape",
            {"system": SHAPE_SYSTEM},
            {"system": [{"type": "text", "text": "c"}]},
            {"system": [{"type": "text", "text": "c"}, *SHAPE_SYSTEM]},
        ),
        (
            "system",
            "append_shape",
            {"system": "s"},
            {"system": [{"type": "text", "text": "c"}]},
            {"system": [{"type": "text", "text": "c"}, {"type": "text", "text": "s"}]},
        ),
        # :N cuts the shape's array first
        (
            "system",
            "prepend_shape:1",
            {"system": SHAPE_SYSTEM},
            {"system": "x"},
            {"system": [SHAPE_SYSTEM[0], {"type": "text", "text": "x"}]},
        ),
        ("tools", "append_shape:0", {"tools": [{"name": "a"}]}, {"tools": [{"name": "b"}]}, {"tools": [{"name": "b"}]}),
        # objects merge key by key, the incoming keys winning
        (
            "generationConfig",
            "prepend_shape",
            {"generationConfig": {"temperature": 0, "topK": 3}},
            {"generationConfig": {"temperature": 1}},
            {"generationConfig": {"temperature": 1, "topK": 3}},
        ),
    ],
)
def test_merge_strategies(
    field: str, strategy: str, shape: dict[str, Any], incoming: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert shape_body(shape, incoming, [field], {field: strategy}) == expected


def test_fields_outside_the_content_come_from_the_shape() -> None:
    shape = {"model": "shape-model", "temperature": 0.2, "metadata": {"k": "v"}, "messages": []}
    incoming = {"model": "mine", "temperature": 1.0, "messages": [{"role": "user", "content": "hi"}], "top_k": 5}
    out = shape_body(shape, incoming, ["model", "messages"], {})
    assert out == {
        "model": "mine",
        "temperature": 0.2,
        "metadata": {"k": "v"},
        "messages": [{"role": "user", "content": "hi"}],
    }


def test_drop_applies_outside_content_fields() -> None:
    assert shape_body({"metadata": {"user_id": "x"}, "a": 1}, {}, [], {"metadata": "drop"}) == {"a": 1}


def test_shape_value_is_not_shared_with_the_shape() -> None:
    shape = {"system": [{"type": "text", "text": "s"}]}
    out = shape_body(shape, {"system": "c"}, ["system"], {"system": "prepend_shape"})
    out["system"][0]["text"] = "changed"
    assert shape["system"][0]["text"] == "s"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("replace", Strategy("replace")), ("prepend_shape:2", Strategy("prepend_shape", 2)), ("drop", Strategy("drop"))],
)
def test_strategy_parse(text: str, expected: Strategy) -> None:
    assert Strategy.parse(text) == expected


@pytest.mark.parametrize("text", ["merge", "prepend_shape:x", "append"])
def test_strategy_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="strategy"):
        Strategy.parse(text)


def test_headers_keep_this_requests_own_and_take_the_shapes_envelope() -> None:
    shape = [
        ("host", "shape.example"),
        ("user-agent", "Anthropic/Python 1"),
        ("x-stainless-lang", "python"),
        ("anthropic-version", "2023-06-01"),
        ("content-length", "999"),
        ("x-drop-me", "1"),
    ]
    incoming = [
        ("host", "api.anthropic.com"),
        ("user-agent", "claude-cli/2.1"),
        ("x-api-key", "INJECTED"),
        ("content-type", "application/json"),
        ("anthropic-beta", "b1"),
        ("x-trace", "t"),
    ]
    out = dict(shape_headers(shape, incoming, preserve=["anthropic-beta"], strip=["x-drop-me"]))
    assert out == {
        "user-agent": "Anthropic/Python 1",
        "x-stainless-lang": "python",
        "anthropic-version": "2023-06-01",
        "host": "api.anthropic.com",
        "x-api-key": "INJECTED",
        "content-type": "application/json",
        "anthropic-beta": "b1",
    }


def test_a_request_without_host_header_never_takes_the_shapes_host() -> None:
    out = dict(shape_headers([("host", "elsewhere"), ("accept", "*/*")], [("x-api-key", "k")]))
    assert "host" not in out and out["accept"] == "*/*"


def test_query_takes_the_shapes_missing_params_but_never_a_key() -> None:
    assert merge_query([("beta", "true"), ("key", "AIzaLEAK")], [("alt", "sse")]) == [("alt", "sse"), ("beta", "true")]
    assert merge_query([("alt", "json")], [("alt", "sse")]) == [("alt", "sse")]


@pytest.mark.parametrize(
    ("ua", "family"),
    [
        ("claude-cli/2.1.3 (external, cli)", "claude-cli"),
        ("Anthropic/Python 0.40.0", "anthropic"),
        ("google-genai-sdk/2.8.0 gl-python/3.12.1", "google-genai-sdk"),
        ("", None),
        (None, None),
    ],
)
def test_client_family(ua: str | None, family: str | None) -> None:
    assert client_family(ua) == family


def test_fresh_values() -> None:
    assert fresh_value("uuid", None) != fresh_value("uuid", None)
    assert str(fresh_value("request_id", None)).startswith("req_")
    assert fresh_value("timestamp", None, now=1700000000.5) == 1700000000
    assert fresh_value("timestamp_ms", None, now=1700000000.5) == 1700000000500
    one = fresh_value("session_uuid", "session-A")
    assert one == fresh_value("session_uuid", "session-A") != fresh_value("session_uuid", "session-B")
    assert "session-A" not in str(one)


def test_set_dotted() -> None:
    body: dict[str, Any] = {"metadata": {"id": "old"}, "items": [{"x": 1}]}
    assert set_dotted(body, "metadata.id", "new") and body["metadata"]["id"] == "new"
    assert set_dotted(body, "items.0.x", 2) and body["items"][0]["x"] == 2
    assert not set_dotted(body, "missing.path", 1) and "missing" not in body
