"""Applying a shape to a request about to be forwarded (used by the `shape` hook)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mitmproxy import http

from ccproxy.config.models import ShapeProfile
from ccproxy.lightllm.detect import detect_wire
from ccproxy.lightllm.ir import Wire
from ccproxy.shapes.merge import (
    DEFAULT_CONTENT_FIELDS,
    client_family,
    fresh_value,
    merge_query,
    set_dotted,
    shape_body,
    shape_headers,
)
from ccproxy.shapes.sanitize import json_body
from ccproxy.shapes.store import Shape


@dataclass(frozen=True, slots=True)
class Applied:
    """What `flows compare` and the flow's metadata show about an applied shape."""

    shape: str
    content_fields: list[str]
    fresh: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"shape": self.shape, "content_fields": self.content_fields, "fresh": self.fresh}


def skip_reason(request: http.Request, shape: Shape, wire: Wire | None) -> str | None:
    """Why this request keeps its own envelope, or None when the shape applies."""
    if wire is None or detect_wire(request.method, request.path, request.headers) != wire:
        return "not a generation request of the shape's wire format"
    own = client_family(request.headers.get("user-agent"))
    if own is not None and own == client_family(shape.request.headers.get("user-agent")):
        return f"already from the shape's client family ({own})"
    return None


def apply_shape(
    request: http.Request,
    body: dict[str, Any],
    shape: Shape,
    profile: ShapeProfile,
    wire: Wire,
    *,
    session: str | None = None,
    credential_header: str | None = None,
) -> tuple[dict[str, Any], list[tuple[str, str]], Applied]:
    """(new body, new headers, record). `request` is only read; the caller writes the result."""
    shape_json = json_body(shape.request)
    if not isinstance(shape_json, dict):
        shape_json = {}
    fields = list(profile.content_fields or DEFAULT_CONTENT_FIELDS[wire])
    new_body = shape_body(shape_json, body, fields, profile.merge_strategies)
    preserve = [*profile.preserve_headers, *([credential_header] if credential_header else [])]
    headers = shape_headers(
        shape.request.headers.items(multi=True), request.headers.items(multi=True), preserve, profile.strip_headers
    )
    fresh_done: list[str] = []
    for path, kind in profile.fresh.items():
        value = fresh_value(kind, session)
        where, _, rest = path.partition(".")
        if where == "headers":
            headers = [(k, v) for k, v in headers if k.lower() != rest.lower()] + [(rest, str(value))]
            fresh_done.append(path)
        elif set_dotted(new_body, rest, value):
            fresh_done.append(path)
    return new_body, headers, Applied(shape.label, fields, fresh_done)


def shaped_query(request: http.Request, shape: Shape) -> list[tuple[str, str]]:
    return merge_query(shape.request.query.items(multi=True), request.query.items(multi=True))


def encode_headers(pairs: list[tuple[str, str]]) -> http.Headers:
    return http.Headers([(k.encode(), v.encode()) for k, v in pairs])


def dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
