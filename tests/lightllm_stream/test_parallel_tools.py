"""Interleaved parallel tool-call deltas (OpenAI Chat allows them: call 1 starts before call 0's
arguments are complete) reach every client whole, judged by the SDKs' accumulators. Anthropic
blocks and Responses items cannot interleave: later calls wait until the open one closes."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccproxy.lightllm.ir import WIRES
from ccproxy.lightllm.stream import RequestContext, StreamConverter
from ccproxy.lightllm.stream.converter import make_renderer
from ccproxy.lightllm.stream.events import MessageStart, Stop, TextDelta, ToolCallDelta, ToolCallEnd, ToolCallStart

from .oracles import StreamErrorSeen, openai_chat_summary, rendered_summary

RAW = (Path(__file__).parent / "data" / "openai_chat_interleaved_parallel_tools.sse").read_bytes()
CALLS = [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"}), ("get_time", {"tz": "CET"})]


def test_the_recording_interleaves_and_the_sdk_accepts_it() -> None:
    s = openai_chat_summary(RAW)
    assert s.tool_calls == CALLS and s.stop == "tool"
    assert RAW.index(b'"index": 1, "id"') < RAW.index(b'"Paris')  # call 1 starts before call 0 ends


@pytest.mark.parametrize("dst", WIRES)
@pytest.mark.parametrize("chunking", ["whole", "byte_by_byte"])
def test_interleaved_calls_reach_every_client_whole(dst: str, chunking: str) -> None:
    conv = StreamConverter("openai", dst, RequestContext(model="m", include_usage=True))  # type: ignore[arg-type]
    pieces = [RAW] if chunking == "whole" else [RAW[i : i + 1] for i in range(len(RAW))]
    out = b"".join(conv.feed(p) for p in pieces) + conv.close()
    assert conv.error is None
    s = rendered_summary(dst, out)
    assert s.tool_calls == CALLS
    assert s.stop == "tool"


@pytest.mark.parametrize("dst", ["anthropic", "openai_responses"])
def test_a_call_closed_by_text_cannot_take_more_arguments(dst: str) -> None:
    # text between a call's pieces closes its block for good: that (never seen) order is an error
    events = [
        MessageStart("c1", "m"),
        ToolCallStart(0, "a", "f"),
        TextDelta("between"),
        ToolCallDelta(0, "{}"),
        ToolCallEnd(0),
        Stop("tool_use"),
    ]
    up = make_renderer("openai", RequestContext(model="m")).render(events)
    conv = StreamConverter("openai", dst, RequestContext(model="m"))  # type: ignore[arg-type]
    out = conv.feed(up) + conv.close()
    with pytest.raises(StreamErrorSeen, match="tool call 0"):
        rendered_summary(dst, out)
