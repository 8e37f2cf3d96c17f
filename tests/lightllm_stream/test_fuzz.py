"""Hypothesis: valid JSON of the wrong shape never escapes StreamConverter.feed/close (it
would crash into mitmproxy and leave the client waiting for the idle timeout): each direction
either converts or ends at once with a well-formed error event in the client's format. Also
the SSE parser on arbitrary bytes and the request parsers on a mutated Claude Code request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ccproxy.lightllm import convert as cv
from ccproxy.lightllm.ir import WIRES, ConversionError
from ccproxy.lightllm.sse import SSEParser, encode_sse, parse_sse
from ccproxy.lightllm.stream import RequestContext, StreamConverter
from tests.lightllm.test_bad_input import _mutations, json_values

from .oracles import StreamErrorSeen, rendered_summary
from .test_faults import source

CROSS = [(s, d) for s in WIRES for d in WIRES if s != d]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _events(wire: str) -> list[tuple[str | None, dict[str, Any]]]:
    return [(e.event, json.loads(e.data)) for e in parse_sse(source(wire)) if e.data.strip() != "[DONE]"]


EVENTS = {w: _events(w) for w in WIRES}


def _stream(wire: str, events: list[tuple[str | None, Any]]) -> bytes:
    out = b"".join(encode_sse(json.dumps(d), name if wire in ("anthropic", "openai_responses") else None)
                   for name, d in events)  # fmt: skip
    if wire == "openai":
        out += b"data: [DONE]\n\n"
    return out


def run(src: str, dst: str, raw: bytes) -> None:
    """Convert; the client must get a stream its SDK accepts, or an error event in it."""
    conv = StreamConverter(src, dst, RequestContext(model="m", include_usage=True))  # type: ignore[arg-type]
    out = conv.feed(raw) + conv.close()  # must not raise
    try:
        rendered_summary(dst, out)
    except StreamErrorSeen:
        assert conv.error is not None
    except ValueError as e:
        # argument text that is not JSON is the model's output, relayed as streamed (OpenAI
        # upstreams can send it; Anthropic's accumulator refuses it): not a shape error
        if "Unable to parse tool parameter JSON" not in str(e):
            raise


@st.composite
def mutated_streams(draw: st.DrawFn, wire: str) -> bytes:
    events = list(EVENTS[wire])
    i = draw(st.integers(0, len(events) - 1))
    name, payload = events[i]
    events[i] = (name, draw(_mutations(payload)))
    return _stream(wire, events)


# regressions found while fuzzing and reported in the issue, kept explicit
REGRESSIONS: dict[str, list[bytes]] = {
    "anthropic": [
        b'event: message_start\ndata: {"message":"oops","type":"message_start"}\n\n',
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":[1]}\n\n',
    ],
    "openai": [
        b'data: {"id":"c","choices":[],"usage":{"prompt_tokens_details":[1]}}\n\n',
        b'data: {"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":[]}]}}]}\n\n',
        b'data: {"id":"c","choices":{}}\n\n',
    ],
    "openai_responses": [
        b'event: response.created\ndata: {"type":"response.created","response":"oops"}\n\n',
        b'event: response.output_item.added\ndata: {"type":"response.output_item.added","item":[]}\n\n',
    ],
    "gemini": [
        b'data: {"candidates":{}}\r\n\r\n',
        b'data: {"candidates":[{"content":{"parts":{"text":"x"}}}]}\r\n\r\n',
        b'data: {"candidates":[],"usageMetadata":[1]}\r\n\r\n',
    ],
}


@pytest.mark.parametrize(("src", "dst"), CROSS)
def test_regressions(src: str, dst: str) -> None:
    for raw in REGRESSIONS[src]:
        conv = StreamConverter(src, dst, RequestContext(model="m"))  # type: ignore[arg-type]
        out = conv.feed(raw)
        # malformed: the error event goes out with this very chunk, not at the idle timeout
        if conv.error is None:
            out += conv.close()
        with pytest.raises(StreamErrorSeen):
            rendered_summary(dst, out)


@pytest.mark.parametrize(("src", "dst"), CROSS)
@SETTINGS
@given(data=st.data())
def test_wrong_shape_events_end_cleanly(src: str, dst: str, data: st.DataObject) -> None:
    run(src, dst, data.draw(mutated_streams(src)))


@pytest.mark.parametrize(("src", "dst"), CROSS)
@SETTINGS
@given(payloads=st.lists(json_values, min_size=1, max_size=4))
def test_arbitrary_json_events_end_cleanly(src: str, dst: str, payloads: list[Any]) -> None:
    name = "message_start" if src == "anthropic" else ("response.created" if src == "openai_responses" else None)
    run(src, dst, _stream(src, [(name, p) for p in payloads]))


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.binary(max_size=40) | st.sampled_from([b"\n", b"\r\n", b"data: ", b"event: x", b":"]),
                       max_size=20))  # fmt: skip
@example(chunks=[b"data: a\r", b"\ndata: b\r\n\r\n"])
def test_sse_parser_never_raises_and_is_split_invariant(chunks: list[bytes]) -> None:
    whole = SSEParser()
    a = whole.feed(b"".join(chunks)) + whole.close()
    split = SSEParser()
    b = [e for c in chunks for e in split.feed(c)] + split.close()
    assert [(e.event, e.data) for e in a] == [(e.event, e.data) for e in b]


CLAUDE_CODE = json.loads((Path(__file__).parents[1] / "lightllm" / "data" / "claude_code_2_1_request.json").read_text())


@pytest.mark.parametrize("dst", [w for w in WIRES if w != "anthropic"])
@SETTINGS
@given(data=st.data())
def test_mutated_claude_code_request_converts_or_raises_value_error(dst: str, data: st.DataObject) -> None:
    body = data.draw(_mutations(CLAUDE_CODE))
    try:
        cv.convert_request_full(body, "anthropic", dst)  # type: ignore[arg-type]
    except ConversionError:
        pass
