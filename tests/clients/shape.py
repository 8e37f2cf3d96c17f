"""A request reduced to its shape: keys, roles, block types and field types, never the volatile
values (prompts, system text, ids, paths, keys). Comparing shapes shows a client update that
changes what it sends, and the shape cannot leak anything the client put in its values."""

from __future__ import annotations

import json
import re
from typing import Any

# String values that are vocabulary, not content: kept as they are.
KEEP_VALUES = frozenset({"role", "type", "object", "wire_api", "tool_choice", "effort", "reasoning_effort", "mode"})
# A JSON schema's property names are the tool's data, not the request's shape.
SCHEMA_KEYS = frozenset({"input_schema", "parameters", "parametersJsonSchema", "schema", "response_schema"})
# Headers that differ per connection or per body, not per client version.
VOLATILE_HEADERS = frozenset({"host", "content-length", "connection"})


def shape(value: Any, key: str | None = None) -> Any:
    if key in SCHEMA_KEYS and isinstance(value, dict):
        return "<json-schema>"
    if isinstance(value, dict):
        return {k: shape(v, k) for k, v in sorted(value.items())}
    if isinstance(value, list):
        # distinct element shapes: 3 user messages and 5 are the same shape
        seen = {json.dumps(s, sort_keys=True): s for s in (shape(v, key) for v in value)}
        return [seen[k] for k in sorted(seen)]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if value is None:
        return "null"
    if isinstance(value, str) and key in KEEP_VALUES:
        return value
    return "str"


def path_shape(path: str) -> str:
    """`/v1beta/models/NAME:verb?alt=sse&x=1` → `/v1beta/models/{model}:verb?alt&x`."""
    bare, _, query = path.partition("?")
    bare = re.sub(r"/models/[^/:]+", "/models/{model}", bare)
    keys = sorted(p.split("=", 1)[0] for p in query.split("&") if p)
    return bare + ("?" + "&".join(keys) if keys else "")


def request_shape(req: dict[str, Any]) -> dict[str, Any]:
    """Shape of one request as `GET /flows?bodies=1` gives it (`client_request`)."""
    body: Any = None
    if req.get("body"):
        try:
            body = shape(json.loads(req["body"]))
        except ValueError:
            body = "<not json>"
    headers = sorted(h for h in req.get("headers", {}) if h not in VOLATILE_HEADERS)
    return {"method": req["method"], "path": path_shape(req["path"]), "headers": headers, "body": body}


def requests_shape(reqs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Distinct request shapes of a run, in a stable order (retries of one request are one)."""
    seen = {json.dumps(s, sort_keys=True): s for s in map(request_shape, reqs)}
    return [seen[k] for k in sorted(seen)]
