"""Flows as JSON for `GET /flows`, the CLI's jq filters and HAR export."""

from __future__ import annotations

import base64
import json
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


# Measured (one process): with ~400 characters of bodies the two dumps take 105 us and the
# splice 173; with 92 K (a prompt and its unchanged copy) 890 against 344.
_SPLICE_FROM = 16 * 1024


def summary_and_detail(flow: dict[str, Any]) -> tuple[str, str]:
    """``json.dumps`` (ensure_ascii=False) of ``without_bodies(flow)`` and of ``flow`` itself (a
    ``flow_json(bodies=True)`` document), the same texts, written in one pass: everything but the
    bodies is encoded once for both, and a body the flow holds twice (the client's request and
    the forwarded one, unchanged) is escaped once, by the faster of json's two escapers that
    gives the same text. Below `_SPLICE_FROM` characters of bodies two plain `json.dumps` cost less."""
    messages = [m for k in MESSAGE_KEYS if isinstance(m := flow.get(k), dict)]
    if sum(len(m["body"]) for m in messages if isinstance(m.get("body"), str)) < _SPLICE_FROM:
        return json.dumps(without_bodies(flow), ensure_ascii=False), json.dumps(flow, ensure_ascii=False)
    escaped: dict[str, str] = {}
    summary: list[str] = []
    detail: list[str] = []
    for key, value in flow.items():
        name = json.dumps(key, ensure_ascii=False)
        if key in MESSAGE_KEYS and isinstance(value, dict) and list(value)[-2:] == ["body", "body_encoding"]:
            rest = {k: v for k, v in value.items() if k != "body" and k != "body_encoding"}
            head = json.dumps(rest, ensure_ascii=False)[:-1] + (", " if rest else "")
            body = value["body"]
            if isinstance(body, str):
                text = escaped.get(body)
                if text is None:
                    text = escaped[body] = _json_string(body)
            else:
                text = json.dumps(body, ensure_ascii=False)
            encoding = json.dumps(value["body_encoding"], ensure_ascii=False)
            summary.append(f'{name}: {head}"body": null, "body_encoding": "utf8"}}')
            detail.append(f'{name}: {head}"body": {text}, "body_encoding": {encoding}}}')
        else:
            text = json.dumps(value, ensure_ascii=False)
            summary.append(f"{name}: {text}")
            detail.append(f"{name}: {text}")
    return "{" + ", ".join(summary) + "}", "{" + ", ".join(detail) + "}"


def _json_string(text: str) -> str:
    """``json.dumps(text, ensure_ascii=False)``. For ASCII text (most bodies) the ASCII escaper
    writes the same and is ~2.5x faster (CPython's non-ASCII one builds the string char by char)."""
    if text.isascii():
        return json.encoder.encode_basestring_ascii(text)
    return json.dumps(text, ensure_ascii=False)
