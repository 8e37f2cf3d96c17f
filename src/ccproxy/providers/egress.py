"""What must never leave ccproxy: internal x-ccproxy-* headers and sentinel keys."""

from __future__ import annotations

from mitmproxy import http

from ccproxy.providers.sentinel import PREFIX

INTERNAL_HEADER_PREFIX = "x-ccproxy-"


def sanitize_request(request: http.Request) -> list[str]:
    """Strip internal headers and any header or query parameter carrying a sentinel key.
    Returns what was removed (names only, never values)."""
    removed: list[str] = []
    for name in list(dict.fromkeys(k.lower() for k in request.headers)):
        values = request.headers.get_all(name)
        if name.startswith(INTERNAL_HEADER_PREFIX) or any(PREFIX in v for v in values):
            del request.headers[name]
            removed.append(name)
    query = request.query
    for key in list(dict.fromkeys(query.keys())):
        if any(PREFIX in v for v in query.get_all(key)):
            del query[key]
            removed.append(f"?{key}")
    # A sentinel smuggled anywhere else in the path (not a query value) is cut out too.
    if PREFIX in request.path:
        request.path = request.path.replace(PREFIX, "")
        removed.append("path")
    return removed
