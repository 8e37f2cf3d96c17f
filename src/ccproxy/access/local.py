"""The access check every local HTTP surface calls first (/flows, /health, /mcp, /ui).

Pure: it sees header values and the port the request arrived on, never a framework object,
so the mitmproxy control addon, the MCP server and the viewer share it.

- Host: only a loopback name or address with the listener's own port. A DNS-rebinding page
  reaches 127.0.0.1 under its own name, so its Host is refused.
- Origin: a browser sends it with every cross-origin request and every POST. Only ccproxy's
  own origin (a loopback host with the listener's port) and `inspector.allow_origins` pass.
- Token: anything that reveals secrets or deletes needs the local token; with a
  non-loopback bind every control request does.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from ccproxy.access.token import TOKEN_HEADER

LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost", "ip6-loopback"})


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int  # 403 foreign Host/Origin, 401 missing or wrong token
    message: str


def split_host(value: str) -> tuple[str, int | None]:
    """("host", port) of a Host header or an origin's netloc; port None when absent or unreadable."""
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port_s = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        host, port_s = value.split(":")
    else:
        host, port_s = value, ""
    port = int(port_s) if port_s.isdigit() else None
    return host.lower(), port


def is_loopback_host(host: str) -> bool:
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_bind(host: str) -> bool:
    """Whether a listen address keeps the listener to this machine ("localhost" counts)."""
    return is_loopback_host(host.strip("[]").lower())


def normalize_origin(origin: str) -> str:
    """scheme://host[:port], lowercase, default ports dropped: the form origins are compared in."""
    parts = urlsplit(origin.strip())
    if not parts.scheme or not parts.hostname:
        raise ValueError(f"invalid origin {origin!r} (expected scheme://host[:port])")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"invalid origin {origin!r} (an origin has no path, query or user)")
    host = parts.hostname.lower()
    shown = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError as e:
        raise ValueError(f"invalid origin {origin!r}: {e}") from e
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    suffix = f":{port}" if port is not None and port != default else ""
    return f"{parts.scheme.lower()}://{shown}{suffix}"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # mitmproxy's and starlette's headers are case-insensitive; a plain dict may not be. Only a
    # dict is scanned: a scan of mitmproxy's Headers decodes every field (~12 µs each), and the
    # miss is the common case (no Origin on an SDK's request).
    value = headers.get(name)
    if value is None and isinstance(headers, dict):
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


@dataclass(frozen=True)
class LocalAccess:
    """The policy of one daemon: its bind address, its token, the origins the user allowed."""

    bind_host: str
    token: str
    allow_origins: frozenset[str] = frozenset()

    @classmethod
    def build(cls, bind_host: str, token: str, allow_origins: Iterable[str] = ()) -> LocalAccess:
        return cls(bind_host, token, frozenset(normalize_origin(o) for o in allow_origins))

    @property
    def loopback_only(self) -> bool:
        return is_loopback_bind(self.bind_host)

    def host_ok(self, host_header: str | None, port: int) -> bool:
        if not host_header:
            return False  # HTTP/1.1 requires Host; HTTP/2's :authority is mapped onto it
        host, given = split_host(host_header)
        if (given if given is not None else 80) != port:
            return False
        if is_loopback_host(host):
            return True
        if self.loopback_only:
            return False
        # Reachable from the network: the address the user bound, or any address literal for a
        # wildcard bind. Never a name: a rebinding page brings its own name.
        bind = self.bind_host.strip("[]").lower()
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return False
        return bind in ("0.0.0.0", "::", "") or host == bind

    def listed(self, origin: str | None) -> bool:
        """Whether `origin` is one the user allowed (those pages get CORS answers)."""
        if not origin:
            return False
        try:
            return normalize_origin(origin) in self.allow_origins
        except ValueError:
            return False

    def origin_ok(self, origin: str | None, port: int) -> bool:
        if origin is None:
            return True  # not a browser, or a same-origin GET: the Host check covers those
        try:
            normal = normalize_origin(origin)
        except ValueError:
            return False  # "null" (sandboxed frames, file:) and garbage
        if normal in self.allow_origins:
            return True
        parts = urlsplit(normal)
        return parts.scheme == "http" and is_loopback_host(parts.hostname or "") and (parts.port or 80) == port

    def token_ok(self, headers: Mapping[str, str]) -> bool:
        given = _header(headers, TOKEN_HEADER)
        if given is None:
            auth = _header(headers, "authorization") or ""
            scheme, _, value = auth.partition(" ")
            given = value.strip() if scheme.lower() == "bearer" else None
        return given is not None and hmac.compare_digest(given.strip().encode(), self.token.encode())

    def check_origin(self, headers: Mapping[str, str], port: int) -> Refusal | None:
        """For every request on a local listener, proxied ones (credential injection) included."""
        return self.origin_refusal(_header(headers, "origin"), port)

    def origin_refusal(self, origin: str | None, port: int) -> Refusal | None:
        """`check_origin` for the request's Origin header value (None: it has none)."""
        if self.origin_ok(origin, port):
            return None
        return Refusal(
            403, f"ccproxy: requests from origin {origin!r} are refused (allow it with ccproxy.inspector.allow_origins)"
        )

    def check_control(
        self, headers: Mapping[str, str], port: int, *, sensitive: bool, host: str | None = None
    ) -> Refusal | None:
        """For a control request. `sensitive`: it reveals secrets or deletes. `host`: the
        request's authority when it is not a Host header (HTTP/2's :authority)."""
        host = host if host is not None else _header(headers, "host")
        if not self.host_ok(host, port):
            return Refusal(403, f"ccproxy: control endpoints answer only a loopback Host with port {port}")
        refusal = self.check_origin(headers, port)
        if refusal is not None:
            return refusal
        if (sensitive or not self.loopback_only) and not self.token_ok(headers):
            why = "this request" if sensitive else f"every control request on a non-loopback bind ({self.bind_host})"
            where = f"header {TOKEN_HEADER} (or Bearer) with the state dir's control.token"
            return Refusal(401, f"ccproxy: {why} needs the local token: {where}")
        return None
