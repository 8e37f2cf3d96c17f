"""Pushing the leading jq filters of a chain down into the store's query.

The flow set's filters are jq programs; the common ones (the documented examples) select by
host, path prefix, provider or session. When the chain *starts* with such filters, they
become ``GET /flows`` parameters: the daemon then reads and sends only the
matching rows (jq still runs every filter: the push-down only narrows its input). Only exact
equivalents are pushed down, and only from the front of the chain (a later select may follow
a slice or a map that changes what it sees).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ccproxy.flows.query import FlowQuery

_STRING = r'"(?:[^"\\]|\\.)*"'
# jq expression (inside map(select(...))) -> FlowQuery field
_EQUALS = {
    ".request.pretty_host": "host",
    ".ccproxy.provider": "provider",
    ".ccproxy.session_id": "session",
}
_SELECT = re.compile(r"^\s*map\(\s*select\(\s*(?P<expr>.+?)\s*\)\s*\)\s*$", re.S)
_EQ = re.compile(rf"^(?P<lhs>\.[a-z_.]+)\s*==\s*(?P<value>{_STRING})$", re.S)
_STARTS = re.compile(rf"^\.request\.path\s*\|\s*startswith\(\s*(?P<value>{_STRING})\s*\)$", re.S)


def _pushable(text: str) -> tuple[str, str] | None:
    """(FlowQuery field, value) when ``text`` is exactly such a filter."""
    m = _SELECT.match(text)
    if m is None:
        return None
    expr = m.group("expr")
    eq = _EQ.match(expr)
    if eq is not None and eq.group("lhs") in _EQUALS:
        value = json.loads(eq.group("value"))
        return (_EQUALS[eq.group("lhs")], value) if isinstance(value, str) else None
    starts = _STARTS.match(expr)
    if starts is not None:
        value = json.loads(starts.group("value"))
        return ("path_prefix", value) if isinstance(value, str) else None
    return None


def push_down(filters: Sequence[str], query: FlowQuery | None = None) -> tuple[FlowQuery, list[str]]:
    """(the query with the leading pushable filters folded in, the filters left for jq)."""
    query = query or FlowQuery()
    rest = list(filters)
    while rest:
        hit = _pushable(rest[0])
        if hit is None or getattr(query, hit[0]) is not None:  # two of a kind: leave it to jq
            break
        changes: dict[str, Any] = {hit[0]: hit[1]}
        query = replace(query, **changes)
        rest.pop(0)
    return query, rest
