"""Small readers shared by the vocabulary modules: tolerate any JSON where a count belongs."""

from __future__ import annotations

from typing import Any


def count(d: Any, key: str) -> int:
    """An integer count at `d[key]`, 0 when `d` is not an object or the value is not an int."""
    if not isinstance(d, dict):
        return 0
    v = d.get(key)
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def obj(d: Any, key: str) -> dict[str, Any]:
    v = d.get(key) if isinstance(d, dict) else None
    return v if isinstance(v, dict) else {}
