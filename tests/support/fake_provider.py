"""A fake LLM provider on a loopback port, speaking the four wire formats.

It records what it received and can be told, per request, to answer with an
error, delay, pause mid-stream, stall, or reset the connection. Replies are
queued (FIFO); with none queued it gives the canned answer for the path.
"""

from __future__ import annotations

import json
import queue
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.canned import default_answer


@dataclass
class Reply:
    status: int = 200
    json: Any = None
    body: bytes | None = None
    events: list[bytes] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    pause_after: int | None = None  # pause this long after N events
    pause: float = 0.0
    reset_after: int | None = None  # RST the connection after N events
    stall_after: int | None = None  # send N events, then go silent until the client leaves
    content_type: str | None = None


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle + delayed ACK add 40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        rec = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time())
        fake = self.server.fake
        fake.received.append(rec)
        fake.arrived.put(rec)
        # a router answers the paths it knows (e.g. Code Assist's loadCodeAssist) before the queue
        reply = fake.router(rec) if fake.router is not None else None
        if reply is None:
            try:
                reply = fake.replies.get_nowait()
            except queue.Empty:
                reply = None
        if callable(reply):
            reply = reply(rec)
        if reply is None:
            try:
                parsed = rec.json
            except ValueError:
                parsed = None
            status, payload, events = default_answer(self.path, parsed)
            reply = Reply(status=status, json=payload, events=events)
        self._send(reply)

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def _send(self, reply: Reply) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        if reply.events is not None:
            self._send_stream(reply)
            return
        body = reply.body if reply.body is not None else json.dumps(reply.json).encode()
        self.send_response(reply.status)
        self.send_header("content-type", reply.content_type or "application/json")
        self.send_header("content-length", str(len(body)))
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _send_stream(self, reply: Reply) -> None:
        fake = self.server.fake
        self.send_response(reply.status)
        self.send_header("content-type", reply.content_type or "text/event-stream; charset=utf-8")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("cache-control", "no-cache")
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.flush()
        events = reply.events or []
        for i, event in enumerate(events):
            if reply.reset_after is not None and i == reply.reset_after:
                self._reset()
                return
            if reply.stall_after is not None and i == reply.stall_after:
                self._stall()
                return
            self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
            self.wfile.flush()
            fake.sent_at.append(time.time())
            if reply.pause_after is not None and i + 1 == reply.pause_after:
                time.sleep(reply.pause)
        if reply.reset_after is not None and reply.reset_after >= len(events):
            self._reset()
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _reset(self) -> None:
        # SO_LINGER 0 makes close() send RST: the abrupt failure a dropped upstream produces.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def _stall(self) -> None:
        self.connection.settimeout(0.2)
        deadline = time.time() + 60
        while time.time() < deadline and not self.server.fake.stopping.is_set():
            try:
                if self.connection.recv(1) == b"":
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    # The stdlib's listen backlog of 5 drops connections when tests fire 20 requests at once.
    # 1024: with 128, the 500-stream load test's connects beyond 129 waited on SYN retransmits
    # (1, 3, 7, 15 s) for this one accepting thread, and on a loaded machine outlasted the
    # daemon's upstream_connect_timeout (10 s): 504s from the harness, not from ccproxy.
    request_queue_size = 1024
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeProvider


class FakeProvider:
    def __init__(self, host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None) -> None:
        self.received: list[Recorded] = []
        self.arrived: queue.Queue[Recorded] = queue.Queue()
        self.replies: queue.Queue[Reply | Callable[[Recorded], Reply]] = queue.Queue()
        self.sent_at: list[float] = []
        self.router: Callable[[Recorded], Reply | None] | None = None
        self.stopping = threading.Event()
        self._server = _Server((host, 0), _Handler)
        self._server.fake = self
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if ssl_context else "http"
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"

    def queue(self, *replies: Reply | Callable[[Recorded], Reply]) -> None:
        for r in replies:
            self.replies.put(r)

    def last(self) -> Recorded:
        return self.received[-1]

    def start(self) -> FakeProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
