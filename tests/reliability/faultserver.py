"""A loopback upstream that misbehaves on request: the `x-test-fault` header of each request
picks how it fails before (or instead of) answering. Every request is recorded first."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

HEADER = b"x-test-fault"


@dataclass
class FaultServer:
    received: list[bytes] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def hostport(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.sock.close()

    def _serve(self) -> None:
        accept_each(self.sock, self.stopping, self._handle)

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            head = self._read_request(conn)
            if head is None:
                return
            self.received.append(head)
            fault = b""
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == HEADER:
                    fault = value.strip()
            if fault == b"reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif fault == b"partial":  # the status line and half a header, then gone
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Ty")
            elif fault == b"short":  # headers promise 100 bytes, 10 arrive
                conn.sendall(
                    b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"id": "x'
                )
            elif fault == b"stall":  # never answers; waits for the other side to give up
                conn.settimeout(0.2)
                while not self.stopping.is_set():
                    try:
                        if conn.recv(1) == b"":
                            break
                    except TimeoutError:
                        continue
                    except OSError:
                        break
            # "close" (and anything else): close without a word

    @staticmethod
    def _read_request(conn: socket.socket) -> bytes | None:
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        return head


def accept_each(sock: socket.socket, stopping: threading.Event, handle: Callable[[socket.socket], None]) -> None:
    """Accept until stopped (or the socket is closed), each connection on a thread of its own."""
    while not stopping.is_set():
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def dead_port() -> int:
    """A loopback port nothing listens on (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Blackhole:
    """A loopback port whose accept queue is full: further SYNs are dropped, connects hang."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fillers: list[socket.socket] = []
        for _ in range(8):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self.fillers.append(s)

    def hangs(self, timeout: float = 1.0) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            try:
                s.connect(("127.0.0.1", self.port))
            except TimeoutError:
                return True
            except OSError:
                return False
            return False

    def close(self) -> None:
        for s in self.fillers:
            s.close()
        self.sock.close()


class Staller:
    """Accepts TCP, reads whatever arrives and never sends a byte: pointed at by an https
    provider, it receives mitmproxy's ClientHello and leaves the TLS handshake hanging."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.first_bytes: list[bytes] = []  # what each connection sent first (0x16: a TLS handshake)
        self.stopping = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        accept_each(self.sock, self.stopping, self._hold)

    def _hold(self, conn: socket.socket) -> None:
        with conn:
            first = True
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                if first:
                    self.first_bytes.append(chunk[:1])
                    first = False

    def close(self) -> None:
        self.stopping.set()
        self.sock.close()
