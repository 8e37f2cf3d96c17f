"""The CLI's control client (access.loopback) against a real socket server: each way an
HTTP/1.1 reply may be framed, and the failures it must report as ControlError."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from ccproxy.access import loopback


@dataclass
class Server:
    port: int
    replies: list[bytes] = field(default_factory=list)  # one per connection, in order
    received: list[bytes] = field(default_factory=list)  # each request's head

    def get(self, path: str = "/flows", **kw: object) -> loopback.Reply:
        return loopback.request(f"http://127.0.0.1:{self.port}", "GET", path, **kw)  # type: ignore[arg-type]


@pytest.fixture
def serve() -> Iterator[Server]:
    listener = socket.create_server(("127.0.0.1", 0))
    server = Server(listener.getsockname()[1])

    def loop() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                server.received.append(data)
                try:
                    conn.sendall(server.replies.pop(0))
                except OSError:  # the client gave up on a broken reply first
                    pass

    threading.Thread(target=loop, daemon=True).start()
    yield server
    listener.close()


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nX-A: 1\r\n\r\n[1,2,3]",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n4;ext=1\r\n2,3]\r\n0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n[1,2,3]",  # framed by the close
    ],
    ids=["content-length", "chunked", "until close"],
)
def test_each_framing_gives_the_body(serve: Server, reply: bytes) -> None:
    serve.replies.append(reply)
    r = serve.get(params={"table": "1"}, headers={"x-ccproxy-token": "t"})
    assert (r.status_code, r.json()) == (200, [1, 2, 3])
    request = serve.received[-1].decode()
    assert request.startswith("GET /flows?table=1 HTTP/1.1\r\n")
    assert "\r\nx-ccproxy-token: t\r\n" in request and "\r\nConnection: close\r\n" in request


def test_headers_are_lowercased_and_a_404_is_a_reply(serve: Server) -> None:
    serve.replies.append(b"HTTP/1.1 404 Not Found\r\nX-Ccproxy-Next: 42\r\nContent-Length: 0\r\n\r\n")
    r = serve.get("/flows/nope")
    assert (r.status_code, r.headers["x-ccproxy-next"], r.content) == (404, "42", b"")


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"",
    ],
    ids=["truncated body", "truncated chunk", "not http", "bad header", "closed at once"],
)
def test_a_broken_reply_is_a_control_error(serve: Server, reply: bytes) -> None:
    serve.replies.append(reply)
    with pytest.raises(loopback.ControlError) as e:
        serve.get()
    assert not isinstance(e.value, loopback.NotListening)


def test_nothing_listening_is_not_listening() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(loopback.NotListening):
        loopback.request(f"http://127.0.0.1:{port}", "GET", "/health", timeout=3.0)
