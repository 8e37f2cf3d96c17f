"""Which leading jq filters become store queries (and which stay in jq)."""

from __future__ import annotations

import pytest

from ccproxy.flows.pushdown import push_down
from ccproxy.flows.query import FlowQuery, parse_query, to_params

HOST = 'map(select(.request.pretty_host == "api.anthropic.com"))'
PATH = 'map(select(.request.path | startswith("/v1/messages")))'
PROVIDER = 'map(select(.ccproxy.provider == "openai"))'
OTHER = 'map(select(.request.method == "POST"))'


@pytest.mark.parametrize(
    ("filters", "query", "rest"),
    [
        ([HOST, PATH], FlowQuery(host="api.anthropic.com", path_prefix="/v1/messages"), []),
        ([PROVIDER, OTHER, HOST], FlowQuery(provider="openai"), [OTHER, HOST]),
        ([OTHER, HOST], FlowQuery(), [OTHER, HOST]),  # only from the front of the chain
        ([".[0:5]", HOST], FlowQuery(), [".[0:5]", HOST]),
        (
            [HOST, HOST.replace("anthropic", "openai")],
            FlowQuery(host="api.anthropic.com"),
            [HOST.replace("anthropic", "openai")],
        ),
        (
            ['map(select(.request.pretty_host == "a") | .id)'],
            FlowQuery(),
            ['map(select(.request.pretty_host == "a") | .id)'],
        ),
        (['map(select(.ccproxy.session_id == "s\\"1"))'], FlowQuery(session='s"1'), []),
    ],
)
def test_push_down(filters: list[str], query: FlowQuery, rest: list[str]) -> None:
    assert push_down(filters) == (query, rest)


def test_query_params_round_trip_and_errors() -> None:
    q = FlowQuery(limit=5, since=1.5, host="h", path_prefix="/v1", provider="p", session="s", model="m")
    assert parse_query(to_params(q)) == q
    with pytest.raises(ValueError, match="limit"):
        parse_query({"limit": "-1"})
    with pytest.raises(ValueError, match="since"):
        parse_query({"since": "yesterday"})
