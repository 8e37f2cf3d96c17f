"""Bad input: parsers and converters raise ConversionError (a ValueError) naming the key path,
never another exception, whatever JSON they are given."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccproxy.lightllm import convert as cv
from ccproxy.lightllm.ir import WIRES, ConversionError
from tests.lightllm.lightllm_builders import WEATHER, Answer, Call, request, response

GEMINI_PATH = "/v1beta/models/g:generateContent"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)


def _mutations(body: Any) -> st.SearchStrategy[Any]:
    """Replace one value somewhere inside a valid body with arbitrary JSON."""
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*path, i))

    walk(body, ())

    def apply(path: tuple[Any, ...], value: Any) -> Any:
        import copy

        out = copy.deepcopy(body)
        if not path:
            return value
        node = out
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = value
        return out

    return st.builds(apply, st.sampled_from(paths), json_values)


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("wire", WIRES)
@SETTINGS
@given(data=st.data())
def test_mutated_requests_convert_or_raise_value_error(wire: str, data: st.DataObject) -> None:
    body = data.draw(_mutations(request(wire, WEATHER)))
    for dst in WIRES:
        try:
            cv.convert_request_full(body, wire, dst, path=GEMINI_PATH if wire == "gemini" else None)  # type: ignore[arg-type]
        except ValueError:
            pass


ANSWER = Answer(thinking="t", signature="c2ln", calls=[Call("c1", "f", {"a": 1})], stop="tool_use")


@pytest.mark.parametrize("wire", WIRES)
@SETTINGS
@given(data=st.data())
def test_mutated_responses_convert_or_raise_value_error(wire: str, data: st.DataObject) -> None:
    body = data.draw(_mutations(response(wire, ANSWER)))
    for dst in WIRES:
        try:
            cv.convert_response(body, wire, dst)  # type: ignore[arg-type]
        except ValueError:
            pass


@pytest.mark.parametrize(
    ("wire", "body", "message"),
    [
        ("anthropic", [], "request: expected an object"),
        ("anthropic", {"model": "m"}, "request.messages: missing"),
        ("anthropic", {"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role: unsupported 'tool'"),
        (
            "anthropic",
            {"messages": [{"role": "user", "content": [{"type": "image"}]}]},
            "messages[0].content[0].source",
        ),
        ("openai", {"messages": "hi"}, "messages: expected an array"),
        ("openai", {"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role: unsupported 'wizard'"),
        ("openai_responses", {"input": [{"type": "function_call", "name": "f"}]}, "input[0].call_id: missing"),
        ("gemini", {"contents": {"parts": []}}, "contents: expected an array"),
    ],
)
def test_bad_request_names_the_key_path(wire: str, body: Any, message: str) -> None:
    with pytest.raises(ConversionError, match=message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        cv.convert_request(body, wire, "openai" if wire != "openai" else "anthropic")  # type: ignore[arg-type]
