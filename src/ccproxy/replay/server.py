"""The replay HTTP server: answers each request from the Matcher (stdlib threads; a test
helper and CLI tool, not on the daemon's event loop)."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ccproxy.lightllm.detect import routing_wire
from ccproxy.lightllm.errors import failure
from ccproxy.replay.matching import Matcher, Miss
from ccproxy.replay.recording import Exchange

_EVENT_END = re.compile(rb"\r?\n\r?\n")


def split_events(body: bytes) -> list[bytes]:
    """SSE events, each with its blank-line terminator."""
    events: list[bytes] = []
    start = 0
    for m in _EVENT_END.finditer(body):
        events.append(body[start : m.end()])
        start = m.end()
    if start < len(body):
        events.append(body[start:])
    return events


def event_delays(ex: Exchange, count: int) -> list[float]:
    """Seconds to wait before each event: the first at the recorded first-byte time, the rest
    spread evenly up to the recorded end (the store keeps a stream's first byte and duration,
    not each event's time)."""
    if count == 0:
        return []
    first = max(ex.first_byte_s or 0.0, 0.0)
    end = max(ex.duration_s or first, first)
    step = (end - first) / (count - 1) if count > 1 else 0.0
    return [first] + [step] * (count - 1)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: ReplayServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.server.lock:
            found = self.server.matcher.match(self.command, self.path, body)
        if isinstance(found, Miss):
            self.server.misses.append(found.message)
            wire = routing_wire(self.command, self.path.split("?", 1)[0])
            status, payload = failure(wire, found.message, 404)
            self._send(status, [("content-type", "application/json")], json.dumps(payload).encode())
        elif found.is_stream:
            self._stream(found)
        else:
            self._send(found.status, list(found.headers), found.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, ex: Exchange) -> None:
        started = time.monotonic()
        self.send_response(ex.status)
        for k, v in ex.headers:
            self.send_header(k, v)
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        events = split_events(ex.body)
        delays = [0.0] * len(events) if self.server.fast else event_delays(ex, len(events))
        due = started
        for event, delay in zip(events, delays, strict=True):
            due += delay
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


class ReplayServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, host: str, port: int, matcher: Matcher, *, fast: bool = False) -> None:
        super().__init__((host, port), _Handler)
        self.matcher = matcher
        self.fast = fast
        self.lock = threading.Lock()
        self.misses: list[str] = []

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"
