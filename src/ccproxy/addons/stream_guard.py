"""Fault handling for streamed responses, inside mitmproxy's HTTP layer.

mitmproxy calls `flow.response.stream` only for data and for a clean end. When the upstream
resets mid-stream it sends the client a protocol error (HTTP/1: the connection is cut inside
the chunked body), and a silent upstream is never noticed. Neither can be fixed from an addon
hook, so the one HttpStream that carries a guarded stream gets this subclass (its `__class__` is
swapped while the `responseheaders` hook runs): upstream errors, malformed events and idle
timeouts become a well-formed error event in the client's format plus a clean end of message.
The idle timer uses the layer's own `RequestWakeup`, so no task or thread exists per stream.

This touches mitmproxy internals (HttpStream, HttpLayer.streams); the integration tests through
the real engine pin the behaviour for the locked mitmproxy version.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any, Protocol

from mitmproxy import http
from mitmproxy.proxy import commands, events, layer
from mitmproxy.proxy.layers.http import (
    HttpLayer,
    HttpStream,
    ResponseData,
    ResponseEndOfMessage,
    ResponseProtocolError,
    SendHttp,
)

log = logging.getLogger("ccproxy.addons.streaming")


class Guarded(Protocol):
    """What the guard needs from the stream callable (StreamTap)."""

    idle_timeout: float
    last_activity: float
    ended: bool
    error: str | None

    def fail(self, message: str) -> bytes: ...


def _tap(stream: HttpStream) -> Guarded | None:
    flow = getattr(stream, "flow", None)
    resp = flow.response if flow is not None else None
    tap = getattr(resp, "stream", None) if resp is not None else None
    return tap if tap is not None and hasattr(tap, "fail") and hasattr(tap, "idle_timeout") else None


class GuardedHttpStream(HttpStream):
    def _handle_event(self, event: events.Event) -> layer.CommandGenerator[None]:
        tap = _tap(self)
        streaming = (
            self.server_state == self.state_stream_response_body
            and self.client_state != self.state_errored  # the client went away
        )
        if tap is None or not streaming or tap.ended:
            if isinstance(event, events.Wakeup):
                return  # a timer armed for a stream that has since ended
            yield from super()._handle_event(event)
            return
        if isinstance(event, events.Wakeup):
            idle = time.monotonic() - tap.last_activity
            if idle >= tap.idle_timeout:
                yield from self._end_with_error(tap, f"upstream idle for more than {tap.idle_timeout:g}s")
            else:
                yield commands.RequestWakeup(tap.idle_timeout - idle)
            return
        if isinstance(event, ResponseProtocolError):
            yield from self._end_with_error(tap, f"upstream stream failed: {event.message}")
            return
        yield from super()._handle_event(event)
        # a malformed event or conversion error already sent the client its error event:
        # end the response now instead of waiting for an upstream we no longer listen to
        if tap.error is not None and not tap.ended and self.server_state == self.state_stream_response_body:
            yield from self._end_with_error(tap, tap.error)

    def start_response_stream(self) -> layer.CommandGenerator[None]:
        yield from super().start_response_stream()
        tap = _tap(self)
        if tap is not None and tap.idle_timeout > 0:
            yield commands.RequestWakeup(tap.idle_timeout)

    def _end_with_error(self, tap: Guarded, message: str) -> layer.CommandGenerator[None]:
        # close upstream first, so the half-read connection is never reused for another request
        if self.context.server.connected:
            yield commands.CloseConnection(self.context.server)
        data = tap.fail(message)
        if data:
            if self.context.options.store_streamed_bodies:
                self.response_body_buf += data
            yield SendHttp(ResponseData(self.stream_id, data), self.context.client)
        yield from self.state_stream_response_body(ResponseEndOfMessage(self.stream_id))


def _walk(root: Any) -> Iterator[Any]:
    seen: set[int] = set()
    todo = [root]
    while todo:
        obj = todo.pop()
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        yield obj
        for attr in ("child_layer", "layer"):
            child = getattr(obj, attr, None)
            if isinstance(child, layer.Layer):
                todo.append(child)
        if isinstance(obj, HttpLayer):
            todo.extend(v for v in obj.connections.values() if isinstance(v, layer.Layer))


def guard_stream(master: Any, flow: http.HTTPFlow) -> bool:
    """Give the HttpStream carrying `flow` the guarded behaviour. False when not found."""
    proxyserver = master.addons.get("proxyserver")
    handler = getattr(proxyserver, "connections", {}).get(flow.client_conn.id)
    if handler is None:
        return False
    for obj in _walk(handler.layer):
        if isinstance(obj, HttpLayer):
            for stream in obj.streams.values():
                if getattr(stream, "flow", None) is flow:
                    if type(stream) is HttpStream:
                        stream.__class__ = GuardedHttpStream
                    return isinstance(stream, GuardedHttpStream)
    return False
