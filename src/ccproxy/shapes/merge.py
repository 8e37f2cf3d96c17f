"""Stamping an incoming request's content into a shape: pure functions, no I/O.

A shape is a whole captured request. Applying it keeps the shape's envelope (headers,
body defaults, query) and takes the *content fields* from the incoming request, each
combined with the shape's value by its merge strategy:

    replace          the incoming value (absent there: the field is dropped)
    drop             the field is removed, whatever either side holds
    prepend_shape    the shape's value, then the incoming one
    append_shape     the incoming value, then the shape's
    <strategy>:N     first cut the shape's array to its first N items

A string merged with an array becomes a text block (`{"type": "text", "text": ...}`), the
form Anthropic's `system` and content arrays take; two strings are joined by a blank
line; two objects are merged key by key, the incoming keys winning.
"""

from __future__ import annotations

import copy
import hashlib
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ccproxy.flows.serialize import SECRET_HEADERS
from ccproxy.shapes.sanitize import SECRET_QUERY

StrategyKind = Literal["replace", "drop", "prepend_shape", "append_shape"]

# The body keys a client's content lives in, per wire type (profiles may override).
DEFAULT_CONTENT_FIELDS: dict[str, tuple[str, ...]] = {
    "anthropic": (
        "model",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "max_tokens",
        "stream",
        "thinking",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "output_config",
    ),
    "openai": (
        "model",
        "messages",
        "tools",
        "tool_choice",
        "max_tokens",
        "max_completion_tokens",
        "stream",
        "stream_options",
        "temperature",
        "top_p",
        "stop",
        "response_format",
        "reasoning_effort",
        "n",
    ),
    "openai_responses": (
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "max_output_tokens",
        "stream",
        "temperature",
        "top_p",
        "reasoning",
        "text",
        "previous_response_id",
    ),
    "gemini": ("contents", "systemInstruction", "tools", "toolConfig", "generationConfig"),
}

# Headers that belong to this request, never to the shape: the routed host, what describes
# this body, and the credentials (the one ccproxy injected, or the client's own).
ALWAYS_KEPT_HEADERS = SECRET_HEADERS | {
    "host",
    "content-length",
    "content-type",
    "content-encoding",
    "transfer-encoding",
}


@dataclass(frozen=True, slots=True)
class Strategy:
    kind: StrategyKind = "replace"
    limit: int | None = None

    @classmethod
    def parse(cls, text: str) -> Strategy:
        """`prepend_shape:2` -> Strategy("prepend_shape", 2); ValueError for anything else."""
        name, _, n = text.strip().partition(":")
        if name not in ("replace", "drop", "prepend_shape", "append_shape"):
            raise ValueError(f"unknown merge strategy {text!r}")
        if n and not n.isdigit():
            raise ValueError(f"merge strategy {text!r}: the slice must be a whole number")
        return cls(name, int(n) if n else None)  # type: ignore[arg-type]


_ABSENT = object()


def _as_blocks(value: Any) -> list[Any]:
    return [{"type": "text", "text": value}] if isinstance(value, str) else list(value)


def _combine(first: Any, second: Any) -> Any:
    """`first` then `second`, in a form both can take."""
    if first is _ABSENT:
        return second
    if second is _ABSENT:
        return first
    if isinstance(first, str) and isinstance(second, str):
        return f"{first}\n\n{second}" if first and second else first or second
    if isinstance(first, list | str) and isinstance(second, list | str):
        return [*_as_blocks(first), *_as_blocks(second)]
    if isinstance(first, dict) and isinstance(second, dict):
        return {**first, **second}
    return second  # nothing sensible to concatenate: the later value wins


def merge_field(shape_value: Any, incoming_value: Any, strategy: Strategy) -> Any:
    """The merged value; `_ABSENT` in and out marks a missing field."""
    if strategy.kind == "drop":
        return _ABSENT
    if strategy.kind == "replace":
        return incoming_value
    shaped = shape_value
    if strategy.limit is not None and isinstance(shaped, list):
        shaped = shaped[: strategy.limit]
    shaped = copy.deepcopy(shaped)
    if strategy.kind == "prepend_shape":
        if isinstance(incoming_value, dict) and isinstance(shaped, dict):
            return {**shaped, **incoming_value}
        return _combine(shaped, incoming_value)
    return _combine(incoming_value, shaped)


def shape_body(
    shape: Mapping[str, Any],
    incoming: Mapping[str, Any],
    content_fields: Iterable[str],
    strategies: Mapping[str, str],
) -> dict[str, Any]:
    """The shape's body with the content fields stamped in from the incoming body."""
    out = copy.deepcopy(dict(shape))
    for field in content_fields:
        merged = merge_field(
            shape.get(field, _ABSENT), incoming.get(field, _ABSENT), Strategy.parse(strategies.get(field, "replace"))
        )
        if merged is _ABSENT:
            out.pop(field, None)
        else:
            out[field] = merged
    # A strategy may name a field outside the content fields (e.g. `metadata: drop`).
    for field, text in strategies.items():
        if field not in content_fields and Strategy.parse(text).kind == "drop":
            out.pop(field, None)
    return out


def shape_headers(
    shape: Iterable[tuple[str, str]],
    incoming: Iterable[tuple[str, str]],
    preserve: Iterable[str] = (),
    strip: Iterable[str] = (),
) -> list[tuple[str, str]]:
    """The shape's headers (minus `strip`), with this request's own and `preserve`d ones kept."""
    keep = ALWAYS_KEPT_HEADERS | {h.lower() for h in preserve}
    dropped = keep | {h.lower() for h in strip}
    kept = [(k, v) for k, v in incoming if k.lower() in keep]
    from_shape = [(k, v) for k, v in shape if k.lower() not in dropped]
    return [*from_shape, *kept]


def merge_query(
    shape_query: Iterable[tuple[str, str]], incoming_query: Iterable[tuple[str, str]]
) -> list[tuple[str, str]]:
    """This request's query, plus the shape's parameters it lacks (e.g. `?beta=true`), never a key."""
    incoming_query = list(incoming_query)
    have = {k for k, _ in incoming_query}
    return [*incoming_query, *((k, v) for k, v in shape_query if k not in have and k.lower() not in SECRET_QUERY)]


_PRODUCT = re.compile(r"^\s*([A-Za-z0-9._+-]+)")


def client_family(user_agent: str | None) -> str | None:
    """`claude-cli/2.1.3 (external, cli)` -> `claude-cli`; `Anthropic/Python 0.40` -> `anthropic`."""
    if not user_agent:
        return None
    m = _PRODUCT.match(user_agent)
    return m.group(1).lower() if m else None


def fresh_value(kind: str, session: str | None, now: float | None = None) -> str | int:
    """A value that must not be replayed: new per request, or derived from this session."""
    now = time.time() if now is None else now
    match kind:
        case "uuid":
            return str(uuid.uuid4())
        case "request_id":
            return f"req_{uuid.uuid4().hex[:24]}"
        case "timestamp":
            return int(now)
        case "timestamp_ms":
            return int(now * 1000)
        case "session_uuid":
            # Stable for one incoming session (so the upstream sees one conversation), and not
            # the client's own id: uuid5 over a digest of it.
            seed = session or str(uuid.uuid4())
            return str(uuid.uuid5(uuid.NAMESPACE_URL, "ccproxy-shape:" + hashlib.sha256(seed.encode()).hexdigest()))
    raise ValueError(f"unknown fresh value kind {kind!r}")


def set_dotted(body: dict[str, Any], path: str, value: Any) -> bool:
    """Set `a.b.0.c` inside `body` where the containers exist; False if the path is not there."""
    node: Any = body
    parts = path.split(".")
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    last = parts[-1]
    if isinstance(node, dict):
        node[last] = value
        return True
    if isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node[int(last)] = value
        return True
    return False
