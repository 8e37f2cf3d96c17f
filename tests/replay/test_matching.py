"""The replay matcher and stream pacing (pure)."""

from __future__ import annotations

import json

import pytest

from ccproxy.replay.matching import Matcher, Miss, normalise
from ccproxy.replay.recording import Exchange
from ccproxy.replay.server import event_delays, split_events


def ex(body: dict[str, object], answer: str, path: str = "/v1/messages", **kw: float) -> Exchange:
    return Exchange(
        "POST", path, json.dumps(body).encode(), 200, (("content-type", "application/json"),), answer.encode(), **kw
    )  # type: ignore[arg-type]


A = {"model": "m", "messages": [{"role": "user", "content": "a"}]}
B = {"model": "m", "messages": [{"role": "user", "content": "b"}]}


def answer(found: Exchange | Miss) -> str:
    assert isinstance(found, Exchange), found
    return found.body.decode()


def test_key_order_and_whitespace_do_not_matter() -> None:
    assert normalise(b'{"b": 1,\n "a": 2}') == normalise(b'{"a":2,"b":1}')


def test_exact_matches_in_recorded_order_then_the_last_again() -> None:
    m = Matcher([ex(A, "a1"), ex(B, "b1"), ex(A, "a2")], strict=True)
    body = json.dumps(A).encode()
    assert [answer(m.match("POST", "/v1/messages", body)) for _ in range(3)] == ["a1", "a2", "a2"]


def test_order_within_the_path_unless_strict() -> None:
    other = json.dumps({"model": "m", "messages": []}).encode()
    loose = Matcher([ex(A, "a1"), ex(B, "b1")])
    assert answer(loose.match("POST", "/v1/messages", other)) == "a1"
    assert answer(loose.match("POST", "/v1/messages", other)) == "b1"
    assert isinstance(loose.match("POST", "/v1/messages", other), Miss)  # every recording used
    strict = Matcher([ex(A, "a1")], strict=True)
    miss = strict.match("POST", "/v1/messages?beta=true", other)
    assert isinstance(miss, Miss)
    assert "nearest recorded: POST /v1/messages" in miss.message
    assert '-messages: [{"content": "a", "role": "user"}]' in miss.message and "+messages: []" in miss.message


def test_query_string_is_ignored_and_other_paths_miss() -> None:
    m = Matcher([ex(A, "g", path="/v1beta/models/x:generateContent")], strict=True)
    assert answer(m.match("POST", "/v1beta/models/x:generateContent?key=secret", json.dumps(A).encode())) == "g"
    assert isinstance(m.match("POST", "/v1/chat/completions", json.dumps(A).encode()), Miss)


@pytest.mark.parametrize(
    ("first", "duration", "count", "expected"),
    [(0.5, 1.5, 3, [0.5, 0.5, 0.5]), (None, None, 2, [0.0, 0.0]), (0.2, None, 1, [0.2]), (0.3, 0.3, 4, [0.3, 0, 0, 0])],
)
def test_stream_pacing(first: float | None, duration: float | None, count: int, expected: list[float]) -> None:
    e = ex(A, "", first_byte_s=first, duration_s=duration)  # type: ignore[arg-type]
    assert event_delays(e, count) == pytest.approx(expected)


def test_split_events_keeps_terminators() -> None:
    assert split_events(b"data: 1\n\ndata: 2\r\n\r\ntail") == [b"data: 1\n\n", b"data: 2\r\n\r\n", b"tail"]
