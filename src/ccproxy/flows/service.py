"""Resolving the flow set: fetch from the daemon, then run the jq chain."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ccproxy.flows.client import FlowClient
from ccproxy.flows.jqchain import compile_filters, run_compiled


def resolve_flow_set(
    client: FlowClient,
    filters: Sequence[str],
    bodies: bool = False,
    reveal: bool = False,
) -> list[dict[str, Any]]:
    """GET /flows → filters (config defaults first, then the CLI's) → the final set."""
    programs = compile_filters(filters)  # fail on a typo before talking to the daemon
    text = client.list_text(bodies=bodies, reveal=reveal)
    if filters:
        text = run_compiled(text, filters, programs)
    result = json.loads(text)
    if not isinstance(result, list):
        raise ValueError("/flows did not return a JSON array")
    return result
