"""Client connections cannot exhaust the daemon: a connection that sends no request headers
within `header_timeout` (slow-loris) or stays idle between requests beyond `keepalive_timeout`
is closed, and above `max_connections` (itself kept under the open-files limit) a new one gets
an immediate 503 instead of taking a file descriptor that /health needs."""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from dataclasses import dataclass

from mitmproxy import connection, ctx, http

from ccproxy import mitm_compat as compat
from ccproxy.config.models import Config

log = logging.getLogger(__name__)

# fds kept for everything that is not a client connection: listeners, the flow store, logs, the
# web UI, and one upstream connection per client that the cap admits.
_FD_RESERVE = 64
_LOG_EVERY = 10.0  # seconds between two "refused" warnings


def raise_fd_limit() -> int:
    """Lift the soft open-files limit to the hard one (as servers do): the connection cap follows it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        except (ValueError, OSError):
            pass
    return soft


def fd_cap(configured: int, soft_limit: int | None = None) -> int:
    """The connection cap that the open-files limit allows: each client may hold an upstream fd."""
    if soft_limit is None:
        soft_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft_limit == resource.RLIM_INFINITY or soft_limit <= 0:
        return configured
    return max(1, min(configured, (soft_limit - _FD_RESERVE) // 2))


def _busy_answer() -> bytes:
    body = json.dumps(
        {
            "error": {
                "message": "ccproxy: too many connections, retry later",
                "type": "server_error",
                "code": "too_many_connections",
            }
        }
    ).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n"
        f"x-ccproxy-error: too_many_connections\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


@dataclass
class _Conn:
    client: connection.Client
    busy: int = 0
    timer: asyncio.TimerHandle | None = None


class ConnectionGuardAddon:
    def __init__(self, config: Config, enabled: bool = True) -> None:
        c = config.ccproxy
        self.enabled = enabled
        self.header_timeout = c.header_timeout
        self.keepalive_timeout = c.keepalive_timeout
        self.cap = fd_cap(c.max_connections)
        if self.cap < c.max_connections:
            log.warning(
                "max_connections lowered from %d to %d by the open-files limit (ulimit -n)", c.max_connections, self.cap
            )
        self.conns: dict[str, _Conn] = {}
        self.refused = 0
        self._refused_logged_at = 0.0

    def client_connected(self, client: connection.Client) -> None:
        if not self.enabled:
            return
        if len(self.conns) >= self.cap:
            compat.refuse_client(ctx.master, client, _busy_answer())
            self.refused += 1
            now = time.monotonic()
            if now - self._refused_logged_at >= _LOG_EVERY:
                log.warning("refused %d connection(s): %d open (max_connections)", self.refused, len(self.conns))
                self._refused_logged_at, self.refused = now, 0
            return
        conn = _Conn(client)
        self.conns[client.id] = conn
        self._arm(conn, self.header_timeout)

    def client_disconnected(self, client: connection.Client) -> None:
        conn = self.conns.pop(client.id, None)
        if conn is not None and conn.timer is not None:
            conn.timer.cancel()

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        conn = self.conns.get(flow.client_conn.id)
        if conn is not None:
            conn.busy += 1
            self._disarm(conn)

    def response(self, flow: http.HTTPFlow) -> None:
        self._done(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._done(flow)

    def _done(self, flow: http.HTTPFlow) -> None:
        conn = self.conns.get(flow.client_conn.id)
        if conn is None or conn.busy == 0:
            return
        conn.busy -= 1
        if conn.busy == 0:
            # the next request's headers must arrive within the keep-alive time
            self._arm(conn, self.keepalive_timeout)

    def _arm(self, conn: _Conn, timeout: float) -> None:
        self._disarm(conn)
        if timeout > 0:
            conn.timer = asyncio.get_running_loop().call_later(timeout, self._expire, conn, timeout)

    @staticmethod
    def _disarm(conn: _Conn) -> None:
        if conn.timer is not None:
            conn.timer.cancel()
            conn.timer = None

    def _expire(self, conn: _Conn, timeout: float) -> None:
        conn.timer = None
        if conn.busy == 0 and self.conns.get(conn.client.id) is conn:
            log.debug("closing client connection %s: no request headers within %gs", conn.client.peername, timeout)
            compat.close_client(ctx.master, conn.client)
