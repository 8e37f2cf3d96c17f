"""``GET /flows`` query parameters ↔ ``FlowQuery`` (one place for the names, both directions)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccproxy.flows.store import FlowQuery

# query parameter -> FlowQuery field
PARAMS = {
    "limit": "limit",
    "since": "since",
    "until": "until",
    "host": "host",
    "path_prefix": "path_prefix",
    "provider": "provider",
    "session": "session",
    "model": "model",
    "after": "after",
}
_INTS = {"limit", "after"}
_FLOATS = {"since", "until"}
NEXT_HEADER = "x-ccproxy-next"


def parse_query(params: Mapping[str, str]) -> FlowQuery:
    """Raises ValueError naming the parameter when a value is not what it must be."""
    values: dict[str, Any] = {}
    for name, target in PARAMS.items():
        raw = params.get(name)
        if raw is None or raw == "":
            continue
        try:
            if name in _INTS:
                value: Any = int(raw)
                if value < 0:
                    raise ValueError
            elif name in _FLOATS:
                value = float(raw)
            else:
                value = raw
        except ValueError:
            kind = "a non-negative integer" if name in _INTS else "a Unix timestamp"
            raise ValueError(f"query parameter {name}={raw!r}: must be {kind}") from None
        values[target] = value
    return FlowQuery(**values)


def to_params(query: FlowQuery) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, target in PARAMS.items():
        value = getattr(query, target)
        if value is not None:
            out[name] = str(value)
    return out
