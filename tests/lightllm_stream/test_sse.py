"""The incremental SSE and Gemini JSON-array parsers: grammar table, chunk-boundary fuzz."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccproxy.lightllm.sse import (
    JSONArrayStreamParser,
    SSEEvent,
    SSEParser,
    encode_json_array_element,
    encode_sse,
    parse_sse,
)

from .corpus import corpus_streams


def feed_split(raw: bytes, cuts: list[int]) -> list[SSEEvent]:
    p = SSEParser()
    out: list[SSEEvent] = []
    prev = 0
    for cut in [*sorted(cuts), len(raw)]:
        out += p.feed(raw[prev:cut])
        prev = cut
    return out + p.close()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"data: a\n\n", [SSEEvent("a")]),
        (b"data: a\r\n\r\n", [SSEEvent("a")]),
        (b"data: a\r\rdata: b\r\r", [SSEEvent("a"), SSEEvent("b")]),
        (b"data: a\r\n\ndata: b\n\r\n", [SSEEvent("a"), SSEEvent("b")]),
        (b"data: one\ndata: two\n\n", [SSEEvent("one\ntwo")]),
        (b"data:nospace\n\n", [SSEEvent("nospace")]),
        (b"data:  two spaces\n\n", [SSEEvent(" two spaces")]),
        (b": keep-alive\n\ndata: x\n\n", [SSEEvent("x")]),
        (b"event: ping\ndata: {}\n\n", [SSEEvent("{}", "ping")]),
        (b"id: 7\nretry: 1500\ndata: x\n\n", [SSEEvent("x", id="7", retry=1500)]),
        (b"retry: soon\ndata: x\n\n", [SSEEvent("x")]),
        (b"event: lonely\n\ndata: x\n\n", [SSEEvent("x")]),  # no data: nothing dispatched
        (b"data\n\n", [SSEEvent("")]),  # a bare field name is an empty value
        (b"\xef\xbb\xbfdata: bom\n\n", [SSEEvent("bom")]),
        (b"data: caf\xc3\xa9 \xe2\x9c\x93\n\n", [SSEEvent("café ✓")]),
        (b"data: last-without-blank-line", [SSEEvent("last-without-blank-line")]),
        (b"unknown: field\ndata: x\n\n", [SSEEvent("x")]),
    ],
)
def test_grammar(raw: bytes, expected: list[SSEEvent]) -> None:
    assert parse_sse(raw) == expected


def test_id_persists_and_event_resets() -> None:
    evs = parse_sse(b"id: 1\nevent: a\ndata: x\n\ndata: y\n\n")
    assert [(e.id, e.event) for e in evs] == [("1", "a"), ("1", "message")]


MIXED = (
    b'\xef\xbb\xbfevent: message_start\r\ndata: {"t": "caf\xc3\xa9"}\r\n\r\n'
    b": comment\n\nevent: x\rdata: a\rdata: \xf0\x9f\x98\x80\r\r"
    b"id: 3\ndata: multi\ndata: line\n\n"
)


def test_every_split_position_gives_the_same_events() -> None:
    whole = parse_sse(MIXED)
    assert len(whole) == 3
    for i in range(len(MIXED) + 1):
        assert feed_split(MIXED, [i]) == whole, f"split at {i}"
    for i in range(len(MIXED)):
        for j in range(i, len(MIXED)):
            assert feed_split(MIXED, [i, j]) == whole


def test_byte_by_byte() -> None:
    assert feed_split(MIXED, list(range(len(MIXED)))) == parse_sse(MIXED)


_STREAMS = [raw for _, _, raw, _ in corpus_streams()][:40]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(_STREAMS), st.lists(st.floats(0, 1), max_size=30))
def test_random_splits_of_recorded_streams(raw: bytes, fractions: list[float]) -> None:
    cuts = [int(f * len(raw)) for f in fractions]
    assert feed_split(raw, cuts) == parse_sse(raw)


@pytest.mark.parametrize(
    ("data", "event", "expected"),
    [
        ("x", None, b"data: x\n\n"),
        ("x", "ping", b"event: ping\ndata: x\n\n"),
        ("a\nb", None, b"data: a\ndata: b\n\n"),
    ],
)
def test_encode(data: str, event: str | None, expected: bytes) -> None:
    assert encode_sse(data, event) == expected
    assert parse_sse(expected) == [SSEEvent(data, event or "message")]


# -- Gemini JSON array -------------------------------------------------------------------

ARRAY = (
    b'[{"candidates": [{"content": {"parts": [{"text": "a \\"quoted\\" } ] {"}]}}]}\r\n'
    b',\r\n{"candidates": [{"content": {"parts": [{"text": "caf\xc3\xa9 \\\\"}]}}], "n": [1, [2]]}\r\n]'
)


def feed_array(raw: bytes, cuts: list[int]) -> list[object]:
    p = JSONArrayStreamParser()
    out: list[object] = []
    prev = 0
    for cut in [*sorted(cuts), len(raw)]:
        out += p.feed(raw[prev:cut])
        prev = cut
    assert p.finished
    return out


def test_json_array_every_split() -> None:
    whole = json.loads(ARRAY)
    for i in range(len(ARRAY) + 1):
        assert feed_array(ARRAY, [i]) == whole, f"split at {i}"
    assert feed_array(ARRAY, list(range(len(ARRAY)))) == whole


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.dictionaries(st.text(max_size=5), st.text(max_size=8) | st.integers(), max_size=4), max_size=5),
    st.lists(st.floats(0, 1), max_size=10),
)
def test_json_array_roundtrip(elements: list[dict[str, object]], fractions: list[float]) -> None:
    raw = b"".join(encode_json_array_element(e, i == 0) for i, e in enumerate(elements))
    raw = (raw or b"[") + b"]"
    assert feed_array(raw, [int(f * len(raw)) for f in fractions]) == elements


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"not": "an array"}', r"expected '\['"),
        (b"[}", "unbalanced"),
        (b'[{"a": tru}]', "bad element"),
    ],
)
def test_json_array_errors(raw: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        JSONArrayStreamParser().feed(raw)
