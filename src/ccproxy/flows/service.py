"""Resolving the flow set: fetch from the daemon, then run the jq chain."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ccproxy.flows.client import FlowClient
from ccproxy.flows.jqchain import FilterChain, compile_chain


def compile_flow_chain(filters: Sequence[str], projection: str | None = None) -> FilterChain:
    """The filters (config defaults first, then the caller's); a typo fails here, before any work."""
    return compile_chain(filters, tail=projection if filters else None)


def run_flow_chain(chain: FilterChain, flows_json: str) -> list[dict[str, Any]]:
    """The flow array (JSON text, as `GET /flows` answers) through the chain.

    Without filters Python's own parser is faster than libjq's, so jq is skipped."""
    result = chain.run(flows_json) if chain.filters else json.loads(flows_json)
    if not isinstance(result, list):
        raise ValueError("/flows did not return a JSON array")
    return result


def resolve_flow_set(
    client: FlowClient,
    filters: Sequence[str],
    bodies: bool = False,
    reveal: bool = False,
    projection: str | None = None,
) -> list[dict[str, Any]]:
    """GET /flows → filters (config defaults first, then the CLI's) → the final set.

    ``projection`` (a jq ``map(...)``) trims each flow to what the caller reads, inside the
    same jq run, so a large set is not serialized again only to be parsed by Python.
    """
    chain = compile_flow_chain(filters, projection)
    return run_flow_chain(chain, client.list_text(bodies=bodies, reveal=reveal))
