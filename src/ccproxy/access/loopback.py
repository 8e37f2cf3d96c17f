"""The CLI's HTTP client for the daemon's control endpoints (``/flows``, ``/health``).

Standard library sockets only: importing httpx (and what its package ``__init__`` pulls in)
costs more than the whole of `ccproxy flows list` otherwise, and ``http.client`` brings ssl
and the email package (~60 ms of CPU, bench/cli_startup.py). One HTTP/1.1 request to a
loopback port, `Connection: close`, needs none of their features: the reply is framed by
chunked encoding, Content-Length or the end of the connection. No proxy is consulted (the
daemon is local; a user's HTTP(S)_PROXY must not capture it) and nothing is decompressed
(`Accept-Encoding: identity`).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

# Largest response head accepted (the daemon's are a few hundred bytes).
_MAX_HEAD = 64 * 1024


class ControlError(Exception):
    """The request failed after a connection was made (or the URL is unusable)."""


class NotListening(ControlError):
    """Nothing accepted the connection at the daemon's address."""


@dataclass(frozen=True)
class Reply:
    status_code: int
    headers: Mapping[str, str]  # names lowercased
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


def request(
    base_url: str,
    method: str,
    path: str,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> Reply:
    """One request on a fresh connection. Raises NotListening when the connection is refused
    (or cannot be made), ControlError for any later failure."""
    url = urlsplit(base_url)
    if url.scheme != "http" or not url.hostname:
        raise ControlError(f"not an http:// URL: {base_url}")
    target = url.path.rstrip("/") + path + (f"?{urlencode(params)}" if params else "")
    port = url.port or 80
    try:
        sock = socket.create_connection((url.hostname, port), timeout=timeout)
    except OSError as e:
        raise NotListening(f"cannot connect to {base_url}: {e.strerror or e}") from e
    host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}", "Accept-Encoding: identity", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    try:
        with sock:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            return _read_reply(_Reader(sock), method)
    except (OSError, ValueError, UnicodeError) as e:
        raise ControlError(f"{method} {path}: {e or type(e).__name__}") from e


class _Reader:
    """Buffered reads from a socket; the peer closing early is a ValueError."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = bytearray()

    def _fill(self) -> bool:
        chunk = self._sock.recv(65536)
        self._buf += chunk
        return bool(chunk)

    def until(self, sep: bytes, limit: int) -> bytes:
        while (end := self._buf.find(sep)) < 0:
            if len(self._buf) > limit or not self._fill():
                raise ValueError("malformed or truncated response")
        out = bytes(self._buf[:end])
        del self._buf[: end + len(sep)]
        return out

    def exactly(self, n: int) -> bytes:
        while len(self._buf) < n:
            if not self._fill():
                raise ValueError("response body truncated")
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def rest(self) -> bytes:
        while self._fill():
            pass
        out = bytes(self._buf)
        self._buf.clear()
        return out


def _read_reply(reader: _Reader, method: str) -> Reply:
    """An HTTP/1.x response: status line, headers, then a body framed by chunked encoding,
    Content-Length, or the connection's end (we asked for `Connection: close`)."""
    head = reader.until(b"\r\n\r\n", _MAX_HEAD).decode("latin-1").split("\r\n")
    version, _, rest = head[0].partition(" ")
    code = rest.partition(" ")[0]
    if not version.startswith("HTTP/1.") or not (code.isdigit() and len(code) == 3):
        raise ValueError(f"not an HTTP/1.x response: {head[0][:80]!r}")
    status = int(code)
    fields: dict[str, str] = {}
    for line in head[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"malformed header line {line[:80]!r}")
        name = name.strip().lower()
        fields[name] = f"{fields[name]}, {value.strip()}" if name in fields else value.strip()
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        body = b""
    elif "chunked" in fields.get("transfer-encoding", "").lower():
        parts = []
        while size := int(reader.until(b"\r\n", 1024).partition(b";")[0].strip(), 16):
            parts.append(reader.exactly(size))
            reader.exactly(2)
        body = b"".join(parts)  # trailers, if any, are not read: the connection closes
    elif "content-length" in fields:
        body = reader.exactly(int(fields["content-length"]))
    else:
        body = reader.rest()
    return Reply(status, fields, body)
