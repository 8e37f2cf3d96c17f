from __future__ import annotations

import json
from typing import Any

import pytest

from ccproxy.flows.jqchain import JqFilterError, apply_filters, apply_filters_text

HOST = 'map(select(.request.pretty_host == "api.anthropic.com"))'
MESSAGES = 'map(select(.request.path | startswith("/v1/messages")))'
POST = 'map(select(.request.method == "POST"))'
OK = "map(select(.response.status_code == 200))"


def _host(f: dict[str, Any]) -> bool:
    return bool(f["request"]["pretty_host"] == "api.anthropic.com")


def _messages(f: dict[str, Any]) -> bool:
    return bool(f["request"]["path"].startswith("/v1/messages"))


def _post(f: dict[str, Any]) -> bool:
    return bool(f["request"]["method"] == "POST")


def _ok(f: dict[str, Any]) -> bool:
    return f["response"] is not None and f["response"]["status_code"] == 200


# The seeds' example filters, verbatim, against an independent Python predicate.
@pytest.mark.parametrize(
    ("filters", "predicates"),
    [
        ([HOST], [_host]),
        ([MESSAGES], [_messages]),
        ([HOST, POST, OK], [_host, _post, _ok]),
        ([], []),
    ],
)
def test_seed_filters_select_what_python_selects(
    mixed_contract: list[dict[str, Any]], filters: list[str], predicates: list[Any]
) -> None:
    expected = [f["id"] for f in mixed_contract if all(p(f) for p in predicates)]
    result = apply_filters(mixed_contract, filters)
    assert [f["id"] for f in result] == expected
    assert result == [f for f in mixed_contract if f["id"] in expected]  # flows pass through unchanged


def test_chain_equals_single_piped_filter(mixed_contract: list[dict[str, Any]]) -> None:
    chained = apply_filters(mixed_contract, [HOST, POST, OK])
    piped = apply_filters(mixed_contract, [f"{HOST} | {POST} | {OK}"])
    assert chained == piped
    assert len(chained) == 1


def test_filters_may_reshape_and_keep_order(mixed_contract: list[dict[str, Any]]) -> None:
    result = apply_filters(mixed_contract, ["reverse", "map({id, code: .response.status_code})", ".[:2]"])
    assert (
        result
        == [
            {"id": f["id"], "code": f["response"]["status_code"] if f["response"] else None}
            for f in reversed(mixed_contract)
        ][:2]
    )


def test_trailing_comment_in_filter_is_harmless(mixed_contract: list[dict[str, Any]]) -> None:
    assert apply_filters(mixed_contract, [f"{HOST} # anthropic only"]) == apply_filters(mixed_contract, [HOST])


@pytest.mark.parametrize("filters", [[HOST], [MESSAGES], [HOST, POST, OK], ["."]])
def test_empty_set_stays_empty(filters: list[str]) -> None:
    assert apply_filters_text("[]", filters) == "[]"


@pytest.mark.parametrize(
    ("filters", "bad", "message"),
    [
        (["map("], "map(", "syntax error, unexpected end of file"),
        (["map(select(.request.method ==))"], "map(select(.request.method ==))", "syntax error"),
        (["nosuchfn"], "nosuchfn", "nosuchfn/0 is not defined"),
        ([".[]"], ".[]", "must yield exactly one JSON array, yielded 6 values"),
        (["empty"], "empty", "must yield exactly one JSON array, yielded 0 values"),
        ([".[0]"], ".[0]", "must yield a JSON array, yielded an object"),
        (["length"], "length", "must yield a JSON array, yielded a number"),
        (["null"], "null", "must yield a JSON array, yielded null"),
        ([HOST, "map(.request.method) | .[0]"], "map(.request.method) | .[0]", "yielded a string"),
        ([HOST, ".[0].request.method.x"], ".[0].request.method.x", 'Cannot index string with string ("x")'),
        (['error("boom")'], 'error("boom")', "boom"),
    ],
)
def test_bad_filters_name_the_filter_and_jq_reason(
    mixed_contract: list[dict[str, Any]], filters: list[str], bad: str, message: str
) -> None:
    with pytest.raises(JqFilterError) as info:
        apply_filters_text(json.dumps(mixed_contract), filters)
    assert info.value.filter_text == bad
    assert message in info.value.message
    text = str(info.value)
    assert "\n" not in text
    assert repr(bad) in text


def test_compile_errors_are_reported_before_running_earlier_filters() -> None:
    with pytest.raises(JqFilterError) as info:
        apply_filters_text("not json at all", [".", "map("])  # would fail at run time otherwise
    assert info.value.filter_text == "map("
