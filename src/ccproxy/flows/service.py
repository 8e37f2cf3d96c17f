"""Resolving the flow set: fetch from the daemon, then run the jq chain."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

from ccproxy.flows.jqchain import compile_chain
from ccproxy.flows.pushdown import push_down
from ccproxy.flows.query import FlowQuery


class FlowLister(Protocol):
    def list_text(
        self, bodies: bool = False, reveal: bool = False, query: FlowQuery = ..., rows: bool = False
    ) -> str: ...


def resolve_flow_set(
    client: FlowLister,
    filters: Sequence[str],
    bodies: bool = False,
    reveal: bool = False,
    projection: str | None = None,
    rows: bool = False,
) -> list[dict[str, Any]]:
    """GET /flows → filters (config defaults first, then the CLI's) → the final set.

    The leading filters that the store can answer (host, path prefix, provider, session) are
    also pushed down as query parameters, so the daemon sends only what they select; jq still
    runs them all (a daemon that predates a parameter ignores it).

    ``projection`` (a jq ``map(...)``) trims each flow to what the caller reads, inside the
    same jq run, so a large set is not serialized again only to be parsed by Python.
    Without filters Python's own parser is faster than libjq's, so jq is skipped; ``rows``
    (the table, with ``projection`` = rowview.ROW_PROJECTION) then asks the store for its rows.
    """
    # A typo fails before any request; every element must stay a flow object.
    chain = compile_chain(filters, tail=projection if filters else None, require_objects=True)
    query, _ = push_down(filters)
    if rows and not filters:
        text = client.list_text(bodies=bodies, reveal=reveal, query=query, rows=True)
    else:
        text = client.list_text(bodies=bodies, reveal=reveal, query=query)
    result = chain.run(text) if filters else json.loads(text)
    if not isinstance(result, list):
        raise ValueError("/flows did not return a JSON array")
    return result
