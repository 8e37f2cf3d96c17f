"""Multi-page HAR 1.2 export of a flow set.

Page i is flow i.  entries[2i] is the forwarded request with the upstream response;
entries[2i+1] is the client's request (the pre-pipeline snapshot) with the response the
client received (the converted one when a transform rewrote it, else the upstream one).
Custom data lives in underscore-prefixed fields, as HAR 1.2 allows.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ccproxy.flows.bodies import body_bytes
from ccproxy.providers.redact import REDACTED, is_secret_header, is_secret_param, redact_target


def _iso(ts: float | None) -> str:
    when = datetime.fromtimestamp(ts if ts is not None else 0.0, tz=UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ms(start: float | None, end: float | None) -> float:
    if start is None or end is None or end < start:
        return 0.0
    return round((end - start) * 1000, 3)


def _headers(message: dict[str, Any], reveal: bool) -> list[dict[str, str]]:
    out = []
    for name, value in (message.get("headers") or {}).items():
        # Redact here too: a HAR is a file people share, whatever the daemon sent.
        shown = str(value) if reveal or not is_secret_header(name) else REDACTED
        out.append({"name": str(name), "value": shown})
    return out


def _header(message: dict[str, Any], name: str) -> str | None:
    for key, value in (message.get("headers") or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def _request_cookies(message: dict[str, Any], reveal: bool) -> list[dict[str, str]]:
    raw = _header(message, "cookie")
    if not reveal or not raw or raw == REDACTED:
        return []
    cookies = []
    for part in raw.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            cookies.append({"name": name, "value": value})
    return cookies


def _response_cookies(message: dict[str, Any], reveal: bool) -> list[dict[str, str]]:
    raw = _header(message, "set-cookie")
    if not reveal or not raw or raw == REDACTED:
        return []
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:
        return []
    return [{"name": k, "value": m.value} for k, m in jar.items()]


def _http_version(message: dict[str, Any]) -> str:
    return str(message.get("http_version") or "HTTP/1.1")


def _headers_size(message: dict[str, Any], first_line: str) -> int:
    # Size of the head as HTTP/1.1 would serialize it (HAR asks for the wire head size).
    size = len(first_line) + 2
    for name, value in (message.get("headers") or {}).items():
        size += len(str(name)) + 2 + len(str(value).encode("utf-8")) + 2
    return size + 2


def _body_fields(message: dict[str, Any]) -> tuple[str | None, str | None, int]:
    """(text, encoding, size) of a body: UTF-8 text as is, anything else base64."""
    raw = body_bytes(message)
    if raw is None:
        return None, None, int(message.get("content_length") or 0)
    try:
        return raw.decode("utf-8"), None, len(raw)
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64", len(raw)


def har_request(request: dict[str, Any], reveal: bool) -> dict[str, Any]:
    url = str(request.get("url") or "")
    if not reveal:  # a key in the query (Gemini's ?key=) is a credential like a header
        url = redact_target(url)
    version = _http_version(request)
    method = str(request.get("method") or "GET")
    target = urlsplit(url)
    path = target.path + (f"?{target.query}" if target.query else "")
    text, encoding, size = _body_fields(request)
    entry: dict[str, Any] = {
        "method": method,
        "url": url,
        "httpVersion": version,
        "cookies": _request_cookies(request, reveal),
        "headers": _headers(request, reveal),
        "queryString": [
            {"name": k, "value": REDACTED if not reveal and is_secret_param(k) else v}
            for k, v in parse_qsl(target.query, keep_blank_values=True)
        ],
        "headersSize": _headers_size(request, f"{method} {path or '/'} {version}"),
        "bodySize": size,
    }
    if text is not None and (text or size):
        post: dict[str, Any] = {"mimeType": _header(request, "content-type") or "", "text": text}
        if encoding:
            # postData has no standard encoding field; mirror content.encoding as a custom one.
            post["_encoding"] = encoding
        entry["postData"] = post
    return entry


def har_response(response: dict[str, Any] | None, error: str | None, reveal: bool) -> dict[str, Any]:
    if response is None:
        # HAR requires a response; a failed exchange is status 0 with the error attached.
        result: dict[str, Any] = {
            "status": 0,
            "statusText": "",
            "httpVersion": "",
            "cookies": [],
            "headers": [],
            "content": {"size": 0, "mimeType": ""},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
        }
        if error:
            result["_error"] = error
        return result
    version = _http_version(response)
    status = int(response.get("status_code") or 0)
    reason = str(response.get("reason") or "")
    text, encoding, size = _body_fields(response)
    content: dict[str, Any] = {"size": size, "mimeType": _header(response, "content-type") or ""}
    if text is not None:
        content["text"] = text
        if encoding:
            content["encoding"] = encoding
    wire_length = _header(response, "content-length")
    return {
        "status": status,
        "statusText": reason,
        "httpVersion": version,
        "cookies": _response_cookies(response, reveal),
        "headers": _headers(response, reveal),
        "content": content,
        "redirectURL": _header(response, "location") or "",
        "headersSize": _headers_size(response, f"{version} {status} {reason}"),
        "bodySize": int(wire_length) if wire_length and wire_length.isdigit() else size,
    }


def _timings(request: dict[str, Any], response: dict[str, Any] | None) -> dict[str, float]:
    send = _ms(request.get("timestamp_start"), request.get("timestamp_end"))
    if response is None:
        return {"blocked": -1, "dns": -1, "connect": -1, "ssl": -1, "send": send, "wait": 0.0, "receive": 0.0}
    return {
        "blocked": -1,
        "dns": -1,
        "connect": -1,
        "ssl": -1,
        "send": send,
        "wait": _ms(request.get("timestamp_end"), response.get("timestamp_start")),
        "receive": _ms(response.get("timestamp_start"), response.get("timestamp_end")),
    }


def _entry(
    flow: dict[str, Any],
    page_id: str,
    request: dict[str, Any],
    response: dict[str, Any] | None,
    role: str,
    reveal: bool,
) -> dict[str, Any]:
    timings = _timings(request, response)
    started = request.get("timestamp_start") or flow.get("timestamp_start")
    meta = flow.get("ccproxy") or {}
    return {
        "pageref": page_id,
        "startedDateTime": _iso(started),
        "time": round(sum(v for v in timings.values() if v > 0), 3),
        "request": har_request(request, reveal),
        "response": har_response(response, flow.get("error"), reveal),
        "cache": {},
        "timings": timings,
        "_ccproxy": {
            "flow_id": flow.get("id"),
            "role": role,
            "listener": flow.get("listener"),
            "provider": meta.get("provider"),
            "session_id": meta.get("session_id"),
            "client_wire": meta.get("client_wire"),
            "upstream_wire": meta.get("upstream_wire"),
            "transform": meta.get("transform"),
            "error": flow.get("error"),
        },
    }


def flows_to_har(flows: Sequence[dict[str, Any]], reveal_secrets: bool = False, version: str = "") -> dict[str, Any]:
    pages = []
    entries = []
    for i, flow in enumerate(flows):
        page_id = f"page_{i}"
        short = str(flow.get("id", ""))[:8]
        forwarded = flow.get("request") or {}
        client = flow.get("client_request") or forwarded
        upstream_response = flow.get("response")
        client_response = flow.get("client_response") or upstream_response
        end = flow.get("timestamp_end")
        pages.append(
            {
                "startedDateTime": _iso(flow.get("timestamp_start")),
                "id": page_id,
                "title": f"{client.get('method', '')} {_shown_url(client, reveal_secrets)} [{short}]",
                "pageTimings": {
                    "onContentLoad": -1,
                    "onLoad": _ms(flow.get("timestamp_start"), end) if end else -1,
                },
                "_ccproxy": {"flow_id": flow.get("id")},
            }
        )
        entries.append(_entry(flow, page_id, forwarded, upstream_response, "forwarded", reveal_secrets))
        entries.append(_entry(flow, page_id, client, client_response, "client", reveal_secrets))
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "ccproxy", "version": version or _package_version()},
            "pages": pages,
            "entries": entries,
        }
    }


def _shown_url(request: dict[str, Any], reveal: bool) -> str:
    url = str(request.get("url") or "")
    return url if reveal else redact_target(url)


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("claude-ccproxy")
    except PackageNotFoundError:
        return "0"
