"""Property tests: same-format parse→render is the identity; A→B→A keeps the text, tool
names and arguments, tool results and the stop reason."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccproxy.lightllm import convert as cv
from ccproxy.lightllm.ir import WIRES, Request, Response, TextPart, ToolCallPart, ToolResultPart
from tests.lightllm.lightllm_builders import Answer, Call, Convo, request, response

GEMINI_PATH = "/v1beta/models/gemini-2.5-pro:generateContent"
PAIRS = [pytest.param(a, b, id=f"{a}->{b}") for a in WIRES for b in WIRES if a != b]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(min_size=1, max_size=40)
names = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
json_values = st.one_of(st.integers(-1000, 1000), st.text(max_size=10), st.booleans(), st.none())
args = st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), json_values, max_size=3)


@st.composite
def calls(draw: st.DrawFn) -> list[Call]:
    n = draw(st.integers(0, 3))
    return [Call(f"call_{i}", draw(names), draw(args)) for i in range(n)]


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    cs = draw(calls())
    stop = "tool_use" if cs else draw(st.sampled_from(["end_turn", "max_tokens", "refusal"]))
    return Answer(text=draw(text), calls=cs, stop=stop)


@st.composite
def convos(draw: st.DrawFn) -> Convo:
    cs = draw(calls())
    return Convo(
        system=draw(st.one_of(st.none(), text)),
        user=draw(text),
        assistant_text=draw(st.one_of(st.none(), text)) if cs else draw(text),
        calls=cs,
        results=[draw(text) for _ in cs],
        tools=False,
        temperature=None,
    )


def _path(wire: str) -> str | None:
    return GEMINI_PATH if wire == "gemini" else None


def _answer_facts(r: Response) -> tuple[Any, ...]:
    return (
        "".join(p.text for p in r.parts if isinstance(p, TextPart)),
        [(p.name, p.arguments) for p in r.parts if isinstance(p, ToolCallPart)],
        r.stop_reason,
    )


def _request_facts(r: Request) -> tuple[Any, ...]:
    msgs = cv.normalize(r).messages
    return (
        " ".join(s.text for s in cv.normalize(r).system or []),
        [[p.text for p in m.parts if isinstance(p, TextPart)] for m in msgs if m.role == "user"],
        ["".join(p.text for p in m.parts if isinstance(p, TextPart)) for m in msgs if m.role == "assistant"],
        [(p.name, p.arguments) for m in msgs for p in m.parts if isinstance(p, ToolCallPart)],
        [[c.text for c in p.content] for m in msgs for p in m.parts if isinstance(p, ToolResultPart)],
    )


@pytest.mark.parametrize("wire", WIRES)
@SETTINGS
@given(a=answers())
def test_response_identity(wire: str, a: Answer) -> None:
    body = response(wire, a)
    out = cv.render_response(cv.parse_response(body, wire), wire)  # type: ignore[arg-type]
    assert json.dumps(out, sort_keys=True) == json.dumps(body, sort_keys=True)


@pytest.mark.parametrize("wire", WIRES)
@SETTINGS
@given(c=convos())
def test_request_identity(wire: str, c: Convo) -> None:
    body = request(wire, c)
    out = cv.render_request(cv.parse_request(body, wire, path=_path(wire)), wire)  # type: ignore[arg-type]
    assert json.dumps(out, sort_keys=True) == json.dumps(body, sort_keys=True)


@pytest.mark.parametrize(("a", "b"), PAIRS)
@SETTINGS
@given(ans=answers())
def test_response_there_and_back(a: str, b: str, ans: Answer) -> None:
    body = response(a, ans)
    there = cv.convert_response(body, a, b)  # type: ignore[arg-type]
    back = cv.convert_response(there, b, a)  # type: ignore[arg-type]
    assert _answer_facts(cv.parse_response(back, a)) == _answer_facts(cv.parse_response(body, a))  # type: ignore[arg-type]


@pytest.mark.parametrize(("a", "b"), PAIRS)
@SETTINGS
@given(c=convos())
def test_request_there_and_back(a: str, b: str, c: Convo) -> None:
    body = request(a, c)
    there = cv.convert_request_full(body, a, b, path=_path(a))  # type: ignore[arg-type]
    back = cv.convert_request_full(there.body, b, a, path=there.path)  # type: ignore[arg-type]
    src = cv.parse_request(body, a, path=_path(a))  # type: ignore[arg-type]
    assert _request_facts(cv.parse_request(back.body, a, path=back.path)) == _request_facts(src)  # type: ignore[arg-type]
