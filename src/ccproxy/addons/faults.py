"""Every fault ccproxy answers itself, in the client's wire format.

First in the chain. On `requestheaders` it gives the flow's HTTP stream ccproxy's behaviour
(mitm_compat.CcproxyHttpStream) and refuses, before a byte of the body is read or forwarded,
requests with invalid header bytes (RFC 9112: bare CR, NUL, obs-fold, ...) and bodies larger
than `max_body_bytes`. On `server_connect` it arms the connect timeout, which covers the TCP
connect and, for TLS upstreams, the handshake. What a client sees for each fault is in
docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

from mitmproxy import ctx, http
from mitmproxy.proxy import server_hooks

from ccproxy import mitm_compat as compat
from ccproxy.config.models import Config
from ccproxy.flows import meta
from ccproxy.lightllm.detect import classify
from ccproxy.lightllm.errors import fault
from ccproxy.lightllm.ir import Wire

log = logging.getLogger(__name__)

# RFC 9110 token characters for field names; field values may not hold controls other than HTAB.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def client_wire(flow: http.HTTPFlow) -> Wire | None:
    """The client's wire format: the inspector's verdict, or the request line's when it has not run."""
    wire = flow.metadata.get(meta.CLIENT_WIRE)
    if wire:
        return wire
    ep = classify(flow.request.method, flow.request.path, flow.request.headers)
    return ep.wire if ep is not None else None


def fault_response(flow: http.HTTPFlow, kind: str, message: str) -> http.Response:
    status, body = fault(client_wire(flow), kind, message)
    return http.Response.make(
        status, json.dumps(body).encode(), {"content-type": "application/json", "x-ccproxy-error": kind}
    )


def invalid_header(headers: http.Headers) -> str | None:
    """Why these header fields may not be forwarded, or None."""
    for name, value in headers.fields:
        if not _TOKEN.match(name):
            return f"invalid header name {name[:40]!r}"
        if _BAD_VALUE.search(value):
            what = "obs-fold (a continuation line)" if b"\r\n" in value else "a control character"
            return f"header {name.decode('ascii', 'replace')!r} holds {what}"
    return None


def declared_length(headers: http.Headers) -> int | None:
    raw = headers.get("content-length")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


class FaultsAddon:
    def __init__(self, config: Config, enabled: bool = True) -> None:
        c = config.ccproxy
        self.enabled = enabled
        self.connect_timeout = c.upstream_connect_timeout
        self.read_timeout = c.upstream_read_timeout
        self.max_body_bytes = c.max_body_bytes
        self.policy: compat.StreamPolicy | None = None

    def running(self) -> None:
        self._policy()

    def _policy(self) -> compat.StreamPolicy:
        if self.policy is None:
            self.policy = compat.StreamPolicy(
                master=ctx.master,
                respond=fault_response,
                read_timeout=self.read_timeout,
                max_body_bytes=self.max_body_bytes,
            )
        return self.policy

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if not self.enabled:
            return
        policy = self._policy()
        if not compat.attach(policy.master, flow, policy):
            log.warning("flow %s: fault handling unavailable for this connection", flow.id)
            return
        req = flow.request
        why = invalid_header(req.headers)
        if why is not None:
            self._refuse(flow, "invalid_request", f"ccproxy: refused: {why} (RFC 9112)")
            return
        size = declared_length(req.headers)
        if self.max_body_bytes and size is not None and size > self.max_body_bytes:
            self._refuse(
                flow,
                "request_too_large",
                f"ccproxy: request body of {size} bytes exceeds max_body_bytes ({self.max_body_bytes} bytes)",
            )

    def _refuse(self, flow: http.HTTPFlow, kind: str, message: str) -> None:
        flow.metadata[compat.REFUSE] = (kind, message)
        # mitmproxy would answer `Expect: 100-continue` and invite the body we refuse
        flow.request.headers.pop("expect", None)
        path = flow.request.path.split("?", 1)[0]
        log.warning("%s %s refused: %s", flow.request.method, path[:200], message)

    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        if not self.enabled or self.connect_timeout <= 0 or data.server.error:
            return
        task = asyncio.current_task()  # the connection's own task: it awaits the TCP connect next
        if task is None:
            return
        asyncio.get_running_loop().call_later(self.connect_timeout, self._connect_expired, task, data)

    def _connect_expired(self, task: asyncio.Task[Any], data: server_hooks.ServerConnectionHookData) -> None:
        srv = data.server
        if task.done() or srv.error:
            return
        if srv.timestamp_tcp_setup is None:
            what = "did not accept the connection"
        elif srv.tls and srv.timestamp_tls_setup is None:
            # accepted TCP, then never finished the handshake: the read timer only starts once the
            # request is sent, so without this mitmproxy's inactivity timeout (600 s) is the bound
            what = "did not complete the TLS handshake"
        else:
            return
        address = f"{srv.address[0]}:{srv.address[1]}" if srv.address else "?"
        self._policy().connect_timeouts[data.client.id] = (
            f"ccproxy: upstream {address} {what} within {self.connect_timeout:g}s"
        )
        # the connection's task: awaiting the TCP connect, or reading the handshake (mitmproxy
        # then reports the closed connection to the TLS layer as a failed connect)
        task.cancel()
