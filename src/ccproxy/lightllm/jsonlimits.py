"""How deep a JSON text nests, without parsing it: bodies that would exhaust the recursion of
any parser or converter on the way are refused before anything reads them."""

from __future__ import annotations

import re

# Deep enough for any real tool schema; shallow enough that every recursive step on the way
# (json, pydantic, the converters, glom paths) stays far from Python's recursion limit.
MAX_JSON_DEPTH = 128

# A JSON string (escapes included), unrolled so that long strings cost no backtracking.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def nesting_depth(data: bytes) -> int:
    """The maximum nesting of arrays and objects in `data` (0 for a scalar). Tolerant of
    invalid JSON: it only counts brackets outside strings."""
    if not data:
        return 0
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for b in brackets:
        if b in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
        elif depth:
            depth -= 1
    return deepest


def too_deep(data: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    # a text with no more openers than the limit cannot nest deeper: skip the scan
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    return nesting_depth(data) > limit
