"""Sentinel keys: `sk-ant-oat-ccproxy-{provider}` in whatever slot the client's SDK uses.

A client that cannot be told "no key" (every SDK insists on one) sends the
sentinel instead; ccproxy swaps it for the provider's real credential.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: `ccproxy run` reads PREFIX without loading mitmproxy
    from mitmproxy import http

    from ccproxy.lightllm.ir import Wire

PREFIX = "sk-ant-oat-ccproxy-"
_NAME = re.compile(re.escape(PREFIX) + r"([^\s,;&\"']+)")

# Slots the official SDKs put their key in; order = precedence when several carry a sentinel.
HEADER_SLOTS = ("x-api-key", "authorization", "x-goog-api-key", "api-key")
QUERY_SLOTS = ("key", "api_key")


@dataclass(frozen=True, slots=True)
class SentinelHit:
    provider: str
    slot: str  # header name, or "?key" for a query parameter


def sentinel_name(value: str) -> str | None:
    m = _NAME.search(value)
    return m.group(1) if m else None


_PREFIX_BYTES = PREFIX.encode()


def may_carry_sentinel(request: http.Request) -> bool:
    """False when no slot can hold a sentinel: no header value contains the prefix and there is
    no query string. One pass over the raw header fields; looking each slot up by name (four
    misses, each a scan of every field) and parsing the query twice cost ~70 µs a request, and
    almost no request carries a sentinel. The prefix has no ", ", so a header mitmproxy joins
    from several fields contains it only if one of them does."""
    return "?" in request.path or any(_PREFIX_BYTES in value for _, value in request.headers.fields)


def find_sentinel(request: http.Request) -> SentinelHit | None:
    if not may_carry_sentinel(request):
        return None
    for header in HEADER_SLOTS:
        value = request.headers.get(header)
        if value and (name := sentinel_name(value)):
            return SentinelHit(name, header)
    for param in QUERY_SLOTS:
        value = request.query.get(param)
        if value and (name := sentinel_name(value)):
            return SentinelHit(name, f"?{param}")
    return None


def strip_sentinels(request: http.Request) -> list[str]:
    """Remove every slot that carries a sentinel; returns the slots removed."""
    removed: list[str] = []
    for header in HEADER_SLOTS:
        if PREFIX in request.headers.get(header, ""):
            del request.headers[header]
            removed.append(header)
    for param in QUERY_SLOTS:
        if PREFIX in request.query.get(param, ""):
            del request.query[param]
            removed.append(f"?{param}")
    return removed


# Where each wire format expects its credential: (header, value prefix).
_WIRE_SLOT: dict[Wire, tuple[str, str]] = {
    "anthropic": ("x-api-key", ""),
    "openai": ("authorization", "Bearer "),
    "openai_responses": ("authorization", "Bearer "),
    "gemini": ("x-goog-api-key", ""),
}
# OAuth access tokens are bearer tokens whatever the wire's API-key slot is.
_BEARER_AUTH_TYPES = frozenset({"anthropic_oauth", "google_oauth", "codex_oauth"})


def credential_slot(wire: Wire, header: str | None, auth_type: str | None) -> tuple[str, str]:
    """(header name, value prefix) for the real credential; `authorization` always carries Bearer."""
    if header:
        name = header.lower()
        return name, "Bearer " if name == "authorization" else ""
    if auth_type in _BEARER_AUTH_TYPES:
        return "authorization", "Bearer "
    return _WIRE_SLOT[wire]
