"""What must never leave ccproxy: internal x-ccproxy-* headers and sentinel keys."""

from __future__ import annotations

from urllib.parse import unquote

from mitmproxy import http

from ccproxy.providers.sentinel import PREFIX

INTERNAL_HEADER_PREFIX = "x-ccproxy-"
# Enough rounds to see through %252D (double encoding) and a little more.
_DECODE_ROUNDS = 4
_PREFIX_BYTES = PREFIX.encode()
_INTERNAL_BYTES = INTERNAL_HEADER_PREFIX.encode()


def carries_sentinel(text: str) -> bool:
    """Whether `text` holds a sentinel key as is or after percent-decoding (upstreams decode)."""
    for _ in range(_DECODE_ROUNDS):
        if PREFIX in text:
            return True
        decoded = unquote(text)
        if decoded == text:
            return False
        text = decoded
    return PREFIX in text


def _clean_head(request: http.Request) -> bool:
    """True when no header, query or path can carry anything to strip: no sentinel, no
    x-ccproxy- anywhere, and no %-escape that could hide one. One scan of the raw request
    head instead of a header-by-header walk; anything doubtful takes the full walk."""
    head = b"\n".join(b"%s:%s" % field for field in request.headers.fields) + b"\n" + request.data.path
    return _PREFIX_BYTES not in head and b"%" not in head and _INTERNAL_BYTES not in head.lower()


def sanitize_request(request: http.Request) -> list[str]:
    """Strip internal headers and any header or query parameter carrying a sentinel key.
    Returns what was removed (names only, never values)."""
    if _clean_head(request):
        return []
    removed: list[str] = []
    for name in list(dict.fromkeys(k.lower() for k in request.headers)):
        values = request.headers.get_all(name)
        if name.startswith(INTERNAL_HEADER_PREFIX) or any(carries_sentinel(v) for v in values):
            del request.headers[name]
            removed.append(name)
    query = request.query
    for key in list(dict.fromkeys(query.keys())):
        if carries_sentinel(key) or any(carries_sentinel(v) for v in query.get_all(key)):
            del query[key]
            removed.append(f"?{key}")
    # A sentinel smuggled anywhere else in the path (a segment, maybe %-encoded) is cut out
    # with its segment: the upstream would decode and log it.
    path, sep, rest = request.path.partition("?")
    if carries_sentinel(path):
        segments = path.split("/")
        request.path = "/".join(s for s in segments if not carries_sentinel(s)) + sep + rest
        removed.append("path")
    return removed
