"""Resolving the flow set: fetch from the daemon, then run the jq chain."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ccproxy.flows.client import FlowClient
from ccproxy.flows.jqchain import JqFilterError, compile_chain


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
    Without filters Python's own parser is faster than libjq's, so jq is skipped.
    """
    chain = compile_chain(filters, tail=projection if filters else None)  # a typo fails before any request
    text = client.list_text(bodies=bodies, reveal=reveal)
    result = chain.run(text) if filters else json.loads(text)
    if not isinstance(result, list):
        raise ValueError("/flows did not return a JSON array")
    if filters:
        # Every command reads flows as objects: `[1,2]` is a valid array but not a flow set.
        bad = next((i for i, f in enumerate(result) if not isinstance(f, dict)), None)
        if bad is not None:
            raise JqFilterError(
                " | ".join(filters),
                f"must yield an array of flow objects; element {bad} is {_kind(result[bad])}",
            )
    return result


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array"
