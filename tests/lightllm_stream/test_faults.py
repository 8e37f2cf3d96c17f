"""Broken upstream streams always give the client a well-formed error in its own format."""

from __future__ import annotations

import json
import re

import pytest

from ccproxy.lightllm.ir import WIRES
from ccproxy.lightllm.sse import parse_sse
from ccproxy.lightllm.stream import RequestContext, StreamConverter
from ccproxy.lightllm.stream.converter import make_renderer
from ccproxy.lightllm.stream.events import StreamError

from .oracles import StreamErrorSeen, rendered_summary
from .test_convert import SCENARIOS

PAIRS = [(s, d) for s in WIRES for d in WIRES]


def source(wire: str) -> bytes:
    r = make_renderer(wire, RequestContext(model="m", include_usage=True))  # type: ignore[arg-type]
    return r.render(SCENARIOS["parallel_tools"])


def event_ends(raw: bytes) -> list[int]:
    return [m.end() for m in re.finditer(rb"\r\n\r\n|\n\n", raw)]


def expect_clean_error(wire: str, out: bytes, needle: str) -> None:
    with pytest.raises(StreamErrorSeen) as e:
        rendered_summary(wire, out)
    assert needle in str(e.value)


@pytest.mark.parametrize(("src", "dst"), PAIRS)
def test_truncated_at_every_event_boundary(src: str, dst: str) -> None:
    raw = source(src)
    cuts = event_ends(raw)[:-1]
    if src == "openai":
        # a Chat stream with its finish_reason is complete even without usage and [DONE]:
        # some OpenAI-compatible servers end that way
        cuts = [c for c in cuts if c <= raw.index(b'"finish_reason":"tool_calls"')]
    for cut in cuts:
        conv = StreamConverter(src, dst, RequestContext(model="m"))  # type: ignore[arg-type]
        out = conv.feed(raw[:cut])
        if conv.passthrough:
            # same format passes through unparsed: the stream guard reports the reset
            out += conv.fail("upstream stream failed: reset")
            needle = "reset"
        else:
            out += conv.close()
            needle = "ended before"
        expect_clean_error(dst, out, needle)
        assert conv.error is not None


@pytest.mark.parametrize(("src", "dst"), PAIRS)
def test_cut_inside_an_event_then_failed(src: str, dst: str) -> None:
    raw = source(src)
    ends = event_ends(raw)
    cut = (ends[2] + ends[3]) // 2  # in the middle of the fourth event
    conv = StreamConverter(src, dst, RequestContext(model="m"))  # type: ignore[arg-type]
    out = conv.feed(raw[:cut]) + conv.fail("upstream stream failed: connection reset")
    expect_clean_error(dst, out, "connection reset")
    assert conv.feed(b"data: more\n\n") == b"" and conv.close() == b""


@pytest.mark.parametrize(("src", "dst"), [p for p in PAIRS if p[0] != p[1]])
def test_garbage_event(src: str, dst: str) -> None:
    raw = source(src)
    first = event_ends(raw)[0]
    conv = StreamConverter(src, dst, RequestContext(model="m"))  # type: ignore[arg-type]
    out = conv.feed(raw[:first]) + conv.feed(b"data: {garbage\n\n") + conv.feed(raw[first:]) + conv.close()
    expect_clean_error(dst, out, "not JSON")
    assert conv.error is not None and "not JSON" in conv.error


UPSTREAM_ERRORS = {
    "anthropic": b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
    "openai": b'data: {"error":{"message":"Overloaded","type":"server_error","code":null}}\n\n',
    "openai_responses": b'event: error\ndata: {"type":"error","code":"server_error","message":"Overloaded"}\n\n',
    "gemini": b'data: {"error":{"code":503,"message":"Overloaded","status":"UNAVAILABLE"}}\r\n\r\n',
}


@pytest.mark.parametrize(("src", "dst"), PAIRS)
def test_upstream_error_event_maps_to_client_error(src: str, dst: str) -> None:
    raw = source(src)
    head = raw[: event_ends(raw)[1]]
    conv = StreamConverter(src, dst, RequestContext(model="m"))  # type: ignore[arg-type]
    out = conv.feed(head + UPSTREAM_ERRORS[src]) + conv.close()
    expect_clean_error(dst, out, "Overloaded")


@pytest.mark.parametrize(
    ("dst", "type_", "expected"),
    [
        ("anthropic", "overloaded_error", '"type":"overloaded_error"'),
        ("anthropic", "server_error", '"type":"api_error"'),
        ("openai", "rate_limit_error", '"type":"rate_limit_exceeded"'),
        ("openai", "overloaded_error", '"type":"server_error"'),
        ("openai_responses", "overloaded_error", '"code":"server_error"'),
        ("gemini", "rate_limit_error", '"status":"RESOURCE_EXHAUSTED"'),
        ("gemini", "overloaded_error", '"code":503'),
    ],
)
def test_error_types_are_mapped(dst: str, type_: str, expected: str) -> None:
    r = make_renderer(dst, RequestContext(model="m"))  # type: ignore[arg-type]
    out = r.render([StreamError("boom", type_)])
    assert expected in out.decode()
    assert r.done


def test_passthrough_holds_back_a_partial_event_only() -> None:
    raw = source("anthropic")
    ends = event_ends(raw)
    conv = StreamConverter("anthropic", "anthropic", RequestContext())
    assert conv.feed(raw[: ends[1] + 5]) == raw[: ends[1]]
    assert conv.feed(raw[ends[1] + 5 :]) == raw[ends[1] :]
    assert conv.close() == b""


def test_gemini_array_client_error_closes_the_array() -> None:
    ctx = RequestContext(model="m", gemini_sse=False)
    conv = StreamConverter("anthropic", "gemini", ctx)
    raw = source("anthropic")
    out = conv.feed(raw[: event_ends(raw)[3]]) + conv.fail("upstream stream failed: reset")
    chunks = json.loads(out)  # still one valid JSON array
    assert chunks[-1]["error"]["message"] == "upstream stream failed: reset"


@pytest.mark.parametrize("dst", [w for w in WIRES if w != "openai"])  # identity passes through as is
def test_openai_stream_without_done_still_completes(dst: str) -> None:
    raw = source("openai")
    raw = raw[: raw.index(b"data: [DONE]")]
    conv = StreamConverter("openai", dst, RequestContext(model="m"))  # type: ignore[arg-type]
    out = conv.feed(raw) + conv.close()
    assert conv.error is None
    assert rendered_summary(dst, out).stop == "tool"


def test_events_after_the_terminal_event_are_ignored() -> None:
    raw = source("openai")
    conv = StreamConverter("openai", "anthropic", RequestContext())
    out = conv.feed(raw) + conv.feed(raw) + conv.close()
    assert [e.event for e in parse_sse(out)].count("message_stop") == 1
