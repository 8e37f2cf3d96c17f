"""Flows as JSON for `GET /flows`, the CLI's jq filters and HAR export."""

from __future__ import annotations

import base64
from typing import Any

from mitmproxy import http

from ccproxy.flows import meta
from ccproxy.providers.redact import REDACTED, SECRET_HEADERS, redact_target

__all__ = ["REDACTED", "SECRET_HEADERS", "flow_json", "headers_dict"]


def headers_dict(
    headers: http.Headers, *, reveal: bool = False, secret: frozenset[str] = frozenset()
) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.items(multi=True):
        key = name.lower()
        if (key in SECRET_HEADERS or key in secret) and not reveal:
            value = REDACTED
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def body_fields(message: http.Message, *, bodies: bool) -> dict[str, Any]:
    raw = message.raw_content
    if not bodies or raw is None:
        return {"body": None, "body_encoding": "utf8"}
    try:
        content = message.get_content(strict=False) or b""
    except ValueError:
        content = raw
    try:
        return {"body": content.decode("utf-8"), "body_encoding": "utf8"}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(content).decode("ascii"), "body_encoding": "base64"}


def request_json(
    req: http.Request, *, bodies: bool, reveal: bool, secret: frozenset[str] = frozenset()
) -> dict[str, Any]:
    return {
        "method": req.method,
        "scheme": req.scheme,
        "host": req.host,
        "pretty_host": req.pretty_host,
        "port": req.port,
        "path": req.path if reveal else redact_target(req.path),
        "url": req.pretty_url if reveal else redact_target(req.pretty_url),
        "http_version": req.http_version,
        "headers": headers_dict(req.headers, reveal=reveal, secret=secret),
        "timestamp_start": req.timestamp_start,
        "timestamp_end": req.timestamp_end,
        "content_length": len(req.raw_content or b""),
        **body_fields(req, bodies=bodies),
    }


def response_json(resp: http.Response | None, *, bodies: bool, reveal: bool) -> dict[str, Any] | None:
    if resp is None:
        return None
    return {
        "status_code": resp.status_code,
        "reason": resp.reason,
        "http_version": resp.http_version,
        "headers": headers_dict(resp.headers, reveal=reveal),
        "timestamp_start": resp.timestamp_start,
        "timestamp_end": resp.timestamp_end,
        "content_length": len(resp.raw_content or b""),
        **body_fields(resp, bodies=bodies),
    }


def flow_json(
    flow: http.HTTPFlow, *, bodies: bool = False, reveal: bool = False, client: http.Request | None = None
) -> dict[str, Any]:
    """`client`: the decoded client request when the caller already has it (decoding is costly)."""
    client_req = client if client is not None else meta.client_request(flow) or flow.request
    # rebuilt without mitmproxy's per-field type check (meta's rebuild: ~100 us of a converted flow)
    client_resp = meta.client_response(flow) if flow.metadata.get(meta.CLIENT_RESPONSE) else None
    injected = flow.metadata.get(meta.CREDENTIAL_HEADER)
    secret = frozenset({injected}) if isinstance(injected, str) else frozenset()
    return {
        "id": flow.id,
        "timestamp_start": flow.timestamp_start,
        "timestamp_end": flow.response.timestamp_end if flow.response else None,
        "listener": flow.metadata.get(meta.LISTENER, "reverse"),
        "request": request_json(flow.request, bodies=bodies, reveal=reveal, secret=secret),
        "client_request": request_json(client_req, bodies=bodies, reveal=reveal),
        "response": response_json(meta.upstream_response(flow), bodies=bodies, reveal=reveal),
        "client_response": response_json(client_resp, bodies=bodies, reveal=reveal),
        "error": flow.error.msg if flow.error else flow.metadata.get(meta.ERROR),
        "ccproxy": meta.summary(flow),
    }


MESSAGE_KEYS = ("request", "client_request", "response", "client_response")


def without_bodies(flow: dict[str, Any]) -> dict[str, Any]:
    """``flow_json(bodies=True)`` output as ``flow_json(bodies=False)`` would have produced it."""
    out = dict(flow)
    for key in MESSAGE_KEYS:
        message = out.get(key)
        if isinstance(message, dict):
            out[key] = {**message, "body": None, "body_encoding": "utf8"}
    return out
