"""ASGI guard in front of the MCP app: loopback Host and Origin (DNS rebinding), bearer token.

The MCP spec asks local servers to check Origin and bind to localhost: a web page in the
user's browser can otherwise reach 127.0.0.1 through a name that resolves there.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from ccproxy.access.local import is_loopback_bind, is_loopback_host, normalize_origin, split_host

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def origin_allowed(origin: str, extra_hosts: Iterable[str] = ()) -> bool:
    """A loopback page on any port (MCP inspectors run on their own), or an extra mcp.host."""
    try:
        parts = urlsplit(normalize_origin(origin))
    except ValueError:
        return False  # "null" (sandboxed frames, file:) and garbage
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    return is_loopback_host(parts.hostname) or parts.hostname in set(extra_hosts)


class LocalGuard:
    def __init__(self, app: ASGIApp, *, token: str | None, extra_hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.token = token
        # A non-loopback mcp.host (with a token) is a name clients may legitimately use.
        self.extra_hosts = frozenset(h.lower() for h in extra_hosts if h and not is_loopback_bind(h))

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = split_host(headers.get("host", ""))[0]
        if not host or not (is_loopback_host(host) or host in self.extra_hosts):
            return 403, f"Host {headers.get('host', '')!r} is not a loopback name"
        origin = headers.get("origin")
        if origin is not None and not origin_allowed(origin, self.extra_hosts):
            return 403, f"Origin {origin!r} is not allowed"
        if self.token is not None:
            scheme, _, value = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), self.token.encode()):
                return 401, "missing or wrong bearer token (mcp.auth_token)"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, reason = refusal
        body = json.dumps({"error": reason}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="ccproxy-mcp"'))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
