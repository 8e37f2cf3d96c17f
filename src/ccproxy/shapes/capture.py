"""`ccproxy shapes save`: a captured flow (as `/flows` JSON) becomes a provider's shape."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mitmproxy import connection, http

from ccproxy.config import Config
from ccproxy.lightllm.detect import detect_wire
from ccproxy.shapes.sanitize import sanitize_request
from ccproxy.shapes.store import shape_path, write_shape_file


class CaptureError(ValueError):
    """No captured flow can become the shape."""


def _content(message: dict[str, Any]) -> bytes:
    body = message.get("body")
    if body is None:
        return b""
    return base64.b64decode(body) if message.get("body_encoding") == "base64" else str(body).encode()


def _headers(message: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    return [(str(k).encode(), str(v).encode()) for k, v in (message.get("headers") or {}).items()]


def flow_from_json(flow: dict[str, Any], *, with_response: bool) -> http.HTTPFlow:
    """An HTTPFlow from the forwarded request (and response) of a `/flows` entry."""
    req = flow["request"]
    request = http.Request.make(req["method"], req["url"], _content(req), _headers(req))
    request.timestamp_start = float(req.get("timestamp_start") or flow.get("timestamp_start") or 0)
    request.timestamp_end = request.timestamp_start
    client = connection.Client(
        peername=("127.0.0.1", 0), sockname=("127.0.0.1", 0), timestamp_start=request.timestamp_start
    )
    out = http.HTTPFlow(client, connection.Server(address=(request.host, request.port)))
    out.request = request
    resp = flow.get("response")
    if with_response and resp:
        out.response = http.Response.make(int(resp["status_code"]), _content(resp), _headers(resp))
        for name in ("set-cookie", "cookie"):
            out.response.headers.pop(name, None)
    return out


def is_candidate(flow: dict[str, Any], provider: str, config: Config) -> bool:
    """A generation request that went to `provider` in its own wire format, answered 2xx."""
    entry = config.ccproxy.providers.get(provider)
    summary = flow.get("ccproxy") or {}
    req = flow.get("request") or {}
    if entry is None or summary.get("provider") != provider or req.get("body") is None:
        return False
    resp = flow.get("response") or {}
    if not 200 <= int(resp.get("status_code") or 0) < 300:
        return False
    path = str(req.get("path") or "")
    profile = config.ccproxy.shaping.providers.get(provider)
    pattern = profile.capture.path_pattern if profile else None
    if pattern is not None:
        return re.search(pattern, path) is not None
    return detect_wire(str(req.get("method") or ""), path) == entry.wire


def pick_capture(flows: Sequence[dict[str, Any]], provider: str, config: Config) -> dict[str, Any]:
    """The newest candidate flow; CaptureError says why there is none."""
    if provider not in config.ccproxy.providers:
        known = ", ".join(sorted(config.ccproxy.providers)) or "none configured"
        raise CaptureError(f"unknown provider {provider!r} (configured: {known})")
    found = [f for f in flows if is_candidate(f, provider, config)]
    if not found:
        raise CaptureError(
            f"no captured flow can become the shape of {provider!r}: none of the {len(flows)} flow(s) in the set "
            f"is a successful generation request to that provider (send one through ccproxy first)"
        )
    return max(found, key=lambda f: float(f.get("timestamp_start") or 0))


def save_shape(config: Config, provider: str, flow: dict[str, Any], *, request_only: bool) -> Path:
    """Sanitise and write. `request_only` replaces the file with one request-only flow (the
    override); otherwise the flow is appended, and the file keeps its history."""
    entry = config.ccproxy.providers[provider]
    shaped = flow_from_json(flow, with_response=not request_only)
    extra = [entry.header] if entry.header else []
    shaped.request = sanitize_request(shaped.request, extra)
    path = shape_path(config.shapes_dir, provider)
    write_shape_file(path, [shaped], append=not request_only)
    return path
