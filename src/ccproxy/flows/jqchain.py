"""The flow-set pipeline: config defaults, then each CLI ``--jq``, chained like jq's ``|``.

Every filter must consume one JSON array and produce exactly one JSON array.  All filters
are fused into one jq program, so libjq parses the (possibly large) flow set once; each
filter is wrapped in a guard that checks its output and tags any error with the filter's
index, so the error message can still quote the filter that caused it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class JqFilterError(ValueError):
    """A filter that does not compile, fails at run time, or does not yield one array."""

    def __init__(self, filter_text: str, message: str) -> None:
        self.filter_text = filter_text
        self.message = message
        super().__init__(f"jq filter {filter_text!r}: {message}")


_TAG = "__ccproxy_jq__"
# error payloads raised by the guards: "<tag>:<kind>:<index>:<detail>"
_TAGGED = re.compile(rf"{_TAG}:(count|type|fail|items):(\d+):(.*)", re.DOTALL)
_ARTICLE = {
    "object": "an object",
    "null": "null",
    "string": "a string",
    "number": "a number",
    "boolean": "a boolean",
    "array": "an array",
}


def _one_line(message: str) -> str:
    # libjq compile errors span several lines (source excerpt and a caret); the first line
    # carries the reason and the position.
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    if not lines:
        return "unknown jq error"
    return lines[0].removeprefix("jq: error: ").rstrip(":")


def _guarded(index: int, text: str) -> str:
    # Newlines keep a trailing `# comment` in the user's filter from swallowing the guard;
    # `try` tags the filter's own run-time errors with its index.
    return (
        f'[try (\n{text}\n) catch error("{_TAG}:fail:{index}:" + tostring)]'
        f' | if length != 1 then error("{_TAG}:count:{index}:\\(length)")'
        f' elif (.[0] | type) != "array" then error("{_TAG}:type:{index}:\\(.[0] | type)")'
        " else .[0] end"
    )


@dataclass(frozen=True)
class FilterChain:
    """Compiled filters; ``tail`` is a trusted jq expression run after them (a projection)."""

    filters: tuple[str, ...]
    program: Any  # jq._Program, or None when there is nothing to run

    def run_text(self, flows_json: str) -> str:
        """The filtered set as JSON text."""
        if self.program is None:
            return flows_json
        try:
            return str(self.program.input_text(flows_json).text())
        except ValueError as e:
            raise self._explain(str(e)) from e

    def run(self, flows_json: str) -> Any:
        if self.program is None:
            return json.loads(flows_json)
        try:
            return self.program.input_text(flows_json).first()
        except ValueError as e:
            raise self._explain(str(e)) from e

    def _explain(self, message: str) -> JqFilterError:
        match = _TAGGED.search(message)
        if match is None:  # cannot happen for guarded filters; keep the message anyway
            return JqFilterError(" | ".join(self.filters), _one_line(message))
        kind, index, detail = match.group(1), int(match.group(2)), match.group(3).strip()
        text = self.filters[index]
        if kind == "count":
            return JqFilterError(text, f"must yield exactly one JSON array, yielded {detail} values")
        if kind == "type":
            return JqFilterError(text, f"must yield a JSON array, yielded {_ARTICLE.get(detail, detail)}")
        if kind == "items":
            position, _, kind_name = detail.partition(":")
            shown = _ARTICLE.get(kind_name, kind_name)
            return JqFilterError(text, f"must yield an array of flow objects; element {position} is {shown}")
        return JqFilterError(text, _one_line(detail.removesuffix(" (not a string)")))


def _objects_guard(index: int) -> str:
    # The flow commands read each element as a flow: `[1,2]` is an array but not a flow set.
    return (
        'if all(.[]; type == "object") then . else error('
        f'"{_TAG}:items:{index}:" + (to_entries | map(select(.value | type != "object")) | .[0]'
        r' | "\(.key):\(.value | type)")) end'
    )


def compile_chain(filters: Sequence[str], tail: str | None = None, *, require_objects: bool = False) -> FilterChain:
    """Compile every filter up front, so a typo fails before any request is made.
    `require_objects`: the last filter must yield flow objects (checked before `tail`)."""
    if not filters and not tail:
        return FilterChain(tuple(filters), None)
    import jq  # only a command with filters loads libjq

    for text in filters:
        try:
            jq.compile(text)  # alone, so positions in errors match what the user typed
        except ValueError as e:
            raise JqFilterError(text, _one_line(str(e))) from e
    stages = [_guarded(i, text) for i, text in enumerate(filters)]
    if require_objects and filters:
        stages.append(_objects_guard(len(filters) - 1))
    if tail:
        stages.append(f"({tail})")
    if not stages:
        return FilterChain(tuple(filters), None)
    try:
        program = jq.compile(" | ".join(stages))
    except ValueError as e:  # the filters compiled alone, so the guard or tail is at fault
        raise JqFilterError(" | ".join(filters), _one_line(str(e))) from e
    return FilterChain(tuple(filters), program)


def apply_filters_text(flows_json: str, filters: Sequence[str]) -> str:
    """Run ``filters`` over a JSON array given as text; return the resulting array as text."""
    return compile_chain(filters).run_text(flows_json)


def apply_filters(flows: list[dict[str, Any]], filters: Sequence[str]) -> list[dict[str, Any]]:
    """Run ``filters`` over a list of flow dicts."""
    if not filters:
        return list(flows)
    result: list[dict[str, Any]] = json.loads(apply_filters_text(json.dumps(flows), filters))
    return result
