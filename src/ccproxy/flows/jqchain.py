"""The flow-set pipeline: config defaults, then each CLI ``--jq``, chained like jq's ``|``.

Every filter must consume one JSON array and produce exactly one JSON array.  Filters run
one at a time (rather than joined into a single program) so an error names the filter
that caused it.  The set travels between filters as JSON text: libjq parses text itself,
which is much cheaper than converting Python objects back and forth for large sets.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import jq


class JqFilterError(ValueError):
    """A filter that does not compile, fails at run time, or does not yield one array."""

    def __init__(self, filter_text: str, message: str) -> None:
        self.filter_text = filter_text
        self.message = message
        super().__init__(f"jq filter {filter_text!r}: {message}")


def _one_line(message: str) -> str:
    # libjq compile errors span several lines (source excerpt and a caret); keep the
    # first line, which carries the reason and position, and the error count.
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    if not lines:
        return "unknown jq error"
    return lines[0].removeprefix("jq: error: ").rstrip(":")


_COUNT_TAG = "__ccproxy_jq_count__:"
_TYPE_TAG = "__ccproxy_jq_type__:"


def _guarded(text: str) -> str:
    # Collect the filter's outputs and check them inside jq, so the array goes straight
    # from libjq back to JSON text.  Newlines keep a trailing `# comment` in the user's
    # filter from swallowing the wrapper.
    return (
        f'[(\n{text}\n)] | if length != 1 then error("{_COUNT_TAG}\\(length)")'
        f' elif (.[0] | type) != "array" then error("{_TYPE_TAG}\\(.[0] | type)") else .[0] end'
    )


def compile_filters(filters: Sequence[str]) -> list[Any]:
    """Compile every filter up front so a typo fails before any request is made."""
    programs = []
    for text in filters:
        try:
            jq.compile(text)  # alone first, so positions in errors match what the user typed
            programs.append(jq.compile(_guarded(text)))
        except ValueError as e:
            raise JqFilterError(text, _one_line(str(e))) from e
    return programs


def run_compiled(flows_json: str, filters: Sequence[str], programs: Sequence[Any]) -> str:
    """Run already compiled ``programs`` (from :func:`compile_filters`) over JSON text."""
    current = flows_json
    for text, program in zip(filters, programs, strict=True):
        try:
            current = program.input_text(current).text()
        except ValueError as e:
            raise JqFilterError(text, _runtime_message(str(e))) from e
    return current


def apply_filters_text(flows_json: str, filters: Sequence[str]) -> str:
    """Run ``filters`` over a JSON array given as text; return the resulting array as text."""
    return run_compiled(flows_json, filters, compile_filters(filters))


def _runtime_message(message: str) -> str:
    line = _one_line(message)
    if _COUNT_TAG in line:
        count = line.split(_COUNT_TAG, 1)[1].split()[0].strip("\"'()")
        return f"must yield exactly one JSON array, yielded {count} values"
    if _TYPE_TAG in line:
        kind = line.split(_TYPE_TAG, 1)[1].split()[0].strip("\"'()")
        return f"must yield a JSON array, yielded {_ARTICLE.get(kind, kind)}"
    return line


_ARTICLE = {
    "object": "an object",
    "null": "null",
    "string": "a string",
    "number": "a number",
    "boolean": "a boolean",
}


def apply_filters(flows: list[dict[str, Any]], filters: Sequence[str]) -> list[dict[str, Any]]:
    """Run ``filters`` over a list of flow dicts."""
    if not filters:
        return list(flows)
    result: list[dict[str, Any]] = json.loads(apply_filters_text(json.dumps(flows), filters))
    return result
