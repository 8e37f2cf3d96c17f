"""Secrets at rest: what a flow's state looks like before it is written to `flows.db`.

Pure functions over mitmproxy flow *states* (``HTTPFlow.get_state()``), run by the store's
writer thread. The credential ccproxy injected becomes ``<injected:PROVIDER>``; keys the client
sent itself (credential headers, cookies, ``?key=``) become ``<redacted>``. Nothing in bodies is
touched (a key pasted into a prompt stays: see docs/security.md).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from ccproxy.flows import meta
from ccproxy.providers import redact
from ccproxy.providers.redact import REDACTED

# The one vocabulary (providers/redact.py), as the bytes flow states carry.
SECRET_HEADERS = frozenset(h.encode() for h in redact.SECRET_HEADERS)
SECRET_PARAMS = redact.SECRET_QUERY


def injected_marker(provider: str | None) -> bytes:
    return f"<injected:{provider or 'unknown'}>".encode()


def _scrub_headers(headers: Any, injected: bytes | None, marker: bytes) -> tuple[tuple[bytes, bytes], ...]:
    out = []
    for name, value in headers or ():
        low = name.lower()
        if injected is not None and low == injected:
            value = marker
        elif low in SECRET_HEADERS:
            value = REDACTED.encode()
        out.append((name, value))
    return tuple(out)


def scrub_path(path: bytes) -> bytes:
    """``/v1beta/models/m:generateContent?key=AIza...`` → ``...?key=<redacted>``."""
    base, sep, query = path.partition(b"?")
    if not sep:
        return path
    try:
        pairs = parse_qsl(query.decode("utf-8", "surrogateescape"), keep_blank_values=True)
    except ValueError:
        return base + b"?" + REDACTED.encode()
    if not any(k.lower() in SECRET_PARAMS for k, _ in pairs):
        return path
    cleaned = [(k, REDACTED if k.lower() in SECRET_PARAMS else v) for k, v in pairs]
    return base + b"?" + urlencode(cleaned, safe="<>").encode("utf-8", "surrogateescape")


def _scrub_message(state: dict[str, Any] | None, injected: bytes | None, marker: bytes) -> dict[str, Any] | None:
    if not isinstance(state, dict):
        return state
    out = dict(state)
    out["headers"] = _scrub_headers(state.get("headers"), injected, marker)
    if state.get("trailers"):
        out["trailers"] = _scrub_headers(state.get("trailers"), injected, marker)
    if isinstance(state.get("path"), bytes):
        out["path"] = scrub_path(state["path"])
    return out


def scrub_flow_state(state: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``state`` without credentials (bodies shared, never copied)."""
    md: dict[str, Any] = dict(state.get("metadata") or {})
    header = md.get(meta.CREDENTIAL_HEADER)
    injected = header.lower().encode() if md.get(meta.CREDENTIAL_INJECTED) and isinstance(header, str) else None
    marker = injected_marker(md.get(meta.PROVIDER))
    out = dict(state)
    out["request"] = _scrub_message(state.get("request"), injected, marker)
    out["response"] = _scrub_message(state.get("response"), None, marker)
    # An edited flow keeps its original state, credentials included.
    out["backup"] = None
    for key in (meta.CLIENT_REQUEST, meta.CLIENT_RESPONSE, meta.UPSTREAM_RESPONSE):
        if isinstance(md.get(key), dict):
            md[key] = _scrub_message(md[key], None, marker)
    out["metadata"] = md
    return out


def scrub_flow_dict(flow: dict[str, Any]) -> dict[str, Any]:
    """The same rules over ``flow_json`` output (what `GET /flows` serves from the store):
    credential headers read ``<redacted>``, ``?key=`` too, in place."""
    for key in ("request", "client_request", "response", "client_response"):
        message = flow.get(key)
        if not isinstance(message, dict):
            continue
        headers = message.get("headers")
        if isinstance(headers, dict):
            for name in headers:
                if name.encode() in SECRET_HEADERS:
                    headers[name] = REDACTED
        for field in ("path", "url"):
            if isinstance(message.get(field), str):
                message[field] = scrub_path(message[field].encode("utf-8", "surrogateescape")).decode(
                    "utf-8", "surrogateescape"
                )
    return flow
