"""Same-format streams relay unparsed; one that the upstream ends cleanly but early (no
message_stop / [DONE] / finish) still ends with a well-formed error, found by a tail check."""

from __future__ import annotations

import pytest

from ccproxy.lightllm.ir import WIRES
from ccproxy.lightllm.stream import RequestContext, StreamConverter
from ccproxy.lightllm.stream.tail import ends_cleanly

from .corpus import corpus_streams
from .oracles import rendered_summary
from .test_faults import event_ends, expect_clean_error, source

STREAMS = corpus_streams()


def _terminal_cut(wire: str, raw: bytes) -> int:
    """Offset after which a cut stream counts as complete."""
    if wire == "openai":
        return raw.index(b'"finish_reason":"tool_calls"')  # finish without [DONE] counts
    return event_ends(raw)[-2]


@pytest.mark.parametrize("wire", WIRES)
def test_clean_early_end_is_an_error_in_the_client_format(wire: str) -> None:
    raw = source(wire)
    cuts = [c for c in event_ends(raw)[:-1] if c <= _terminal_cut(wire, raw)]
    assert cuts
    for cut in [0, *cuts]:
        conv = StreamConverter(wire, wire, RequestContext(model="m"))  # type: ignore[arg-type]
        out = conv.feed(raw[:cut]) + conv.close()
        assert out.startswith(raw[:cut])  # what was relayed stays as the upstream sent it
        expect_clean_error(wire, out, "ended before its final event")
        assert conv.error == "upstream stream ended before its final event"


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("trailing", ["as sent", "no final blank line"])
def test_complete_stream_passes_unchanged(wire: str, trailing: str) -> None:
    raw = source(wire)
    if trailing != "as sent":
        raw = raw.rstrip(b"\r\n")
    conv = StreamConverter(wire, wire, RequestContext(model="m"))  # type: ignore[arg-type]
    out = b"".join(conv.feed(raw[i : i + 50]) for i in range(0, len(raw), 50)) + conv.close()
    assert conv.error is None
    assert out.rstrip(b"\r\n") == raw.rstrip(b"\r\n")
    rendered_summary(wire, out)


@pytest.mark.parametrize(("name", "wire", "raw", "path"), STREAMS, ids=[s[0] for s in STREAMS])
def test_recorded_streams_are_complete(name: str, wire: str, raw: bytes, path: str) -> None:
    """No false alarm on any real recording (one event per chunk, as providers send)."""
    conv = StreamConverter(wire, wire, RequestContext(model="m"))  # type: ignore[arg-type]
    out = b"".join(conv.feed(raw[s:e]) for s, e in zip([0, *event_ends(raw)], event_ends(raw), strict=False))
    out += conv.feed(raw[(event_ends(raw) or [0])[-1] :]) + conv.close()
    assert conv.error is None, name
    assert out.rstrip(b"\r\n") == raw.rstrip(b"\r\n")


@pytest.mark.parametrize(
    ("wire", "last", "previous", "clean"),
    [
        ("anthropic", b'event: message_stop\ndata: {"type":"message_stop"}\n\n', b"", True),
        ("anthropic", b'event: error\ndata: {"type":"error","error":{}}\n\n', b"", True),
        ("anthropic", b'event: message_delta\ndata: {"type":"message_delta"}\n\n', b"", False),
        ("openai", b"data: [DONE]\n\n", b"", True),
        ("openai", b'data: {"choices":[],"usage":{}}\n\n', b'data: {"choices":[{"finish_reason":"stop"}]}\n\n', True),
        ("openai", b'data: {"choices":[],"usage":{}}\n\n', b'data: {"choices":[{"finish_reason":null}]}\n\n', False),
        ("openai_responses", b'event: response.completed\ndata: {"type":"response.completed"}\n\n', b"", True),
        ("openai_responses", b"data: [DONE]\n\n", b'data: {"type":"response.incomplete"}\n\n', True),
        ("openai_responses", b'data: {"type":"response.output_text.delta"}\n\n', b"", False),
        ("gemini", b'data: {"candidates":[{"finishReason":"STOP"}]}\r\n\r\n', b"", True),
        ("gemini", b'data: {"candidates":[{"content":{}}]}\r\n\r\n', b"", False),
    ],
)
def test_tail_markers(wire: str, last: bytes, previous: bytes, clean: bool) -> None:
    assert ends_cleanly(wire, last, previous) is clean  # type: ignore[arg-type]
