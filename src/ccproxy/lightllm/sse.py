"""Incremental Server-Sent Events parsing and encoding, plus Gemini's JSON-array stream.

Pure and synchronous: feed bytes as they arrive, get complete events back. Lines are split on
bytes, so a multi-byte UTF-8 character cut by a chunk boundary is never decoded half-way
(CR and LF never occur inside a UTF-8 sequence).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_LINE_END = re.compile(rb"\r\n|\r|\n")
_BOM = b"\xef\xbb\xbf"


@dataclass(slots=True, frozen=True)
class SSEEvent:
    """One dispatched event; `event` is "message" when the stream named none (WHATWG default)."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEParser:
    """WHATWG event-stream parser: LF, CR and CRLF line ends, multi-line `data:`, comments,
    `event:`/`id:`/`retry:`, a leading BOM. Blank lines with no data dispatch nothing."""

    __slots__ = ("_buf", "_data", "_event", "_id", "_pending_cr", "_retry", "_started")

    def __init__(self) -> None:
        self._buf = b""
        self._pending_cr = False  # last chunk ended in CR: a following LF belongs to it
        self._started = False
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if not chunk:
            return []
        if self._pending_cr:
            self._pending_cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        buf = self._buf + chunk if self._buf else chunk
        if not self._started:
            if len(buf) < 3 and _BOM.startswith(buf):
                self._buf = buf
                return []
            self._started = True
            if buf.startswith(_BOM):
                buf = buf[3:]
        if b"\r" in buf:
            lines = _LINE_END.split(buf)
            if buf.endswith(b"\r"):
                self._pending_cr = True
        else:
            lines = buf.split(b"\n")
        self._buf = lines.pop()
        out: list[SSEEvent] = []
        for line in lines:
            if line:
                self._field(line)
            elif self._data:
                out.append(self._dispatch())
            else:
                self._event = ""
        return out

    def close(self) -> list[SSEEvent]:
        """End of stream: per spec an incomplete trailing event is discarded, but a last line
        without its newline is still a complete field, so providers that omit the final blank
        line (seen in the wild) still deliver their last event."""
        if self._buf:
            self._field(self._buf)
            self._buf = b""
        return [self._dispatch()] if self._data else []

    def _field(self, line: bytes) -> None:
        if line[0] == 0x3A:  # ":" comment / keep-alive
            return
        name, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value.decode("utf-8", "replace"))
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"id":
            if b"\x00" not in value:
                self._id = value.decode("utf-8", "replace")
        elif name == b"retry" and value.isdigit():
            self._retry = int(value)

    def _dispatch(self) -> SSEEvent:
        ev = SSEEvent("\n".join(self._data), self._event or "message", self._id, self._retry)
        self._data = []
        self._event = ""
        self._retry = None
        return ev


def parse_sse(raw: bytes) -> list[SSEEvent]:
    parser = SSEParser()
    return parser.feed(raw) + parser.close()


def encode_sse(data: str, event: str | None = None) -> bytes:
    """One event in the canonical LF form; multi-line data becomes several `data:` lines."""
    head = f"event: {event}\n" if event else ""
    if "\n" in data or "\r" in data:
        body = "".join(f"data: {line}\n" for line in data.splitlines())
    else:
        body = f"data: {data}\n"
    return (head + body + "\n").encode()


_JSON_STRUCT = re.compile(rb'["\\{}\[\]]')
_STRING_STOP = re.compile(rb'["\\]')


class JSONArrayStreamParser:
    """Gemini `streamGenerateContent` without `alt=sse` sends one JSON array, element by element
    (`[{...}\\r\\n,\\r\\n{...}]`). This yields each top-level element once its closing brace arrives.
    Linear in the input: structural bytes are found by regex, strings are skipped whole."""

    __slots__ = ("_buf", "_depth", "_done", "_in_string", "_pos", "_start", "_started")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0  # next byte to scan
        self._depth = 0  # nesting depth inside the top-level array
        self._start = -1  # offset where the current element began
        self._in_string = False
        self._started = False
        self._done = False

    def feed(self, chunk: bytes) -> list[Any]:
        self._buf += chunk
        out: list[Any] = []
        buf = self._buf
        n = len(buf)
        pos = self._pos
        if not self._started:
            while pos < n and buf[pos] in b" \t\r\n":
                pos += 1
            if pos == n:
                self._pos = pos
                return out
            if buf[pos] != 0x5B:
                raise ValueError(f"Gemini JSON stream: expected '[' at byte {pos}, got {bytes(buf[pos : pos + 1])!r}")
            self._started = True
            pos += 1
        while pos < n and not self._done:
            if self._in_string:
                m = _STRING_STOP.search(buf, pos)
                if m is None:
                    pos = n
                    break
                if buf[m.start()] == 0x5C:  # backslash escapes the next byte
                    if m.start() + 1 >= n:
                        pos = m.start()
                        break
                    pos = m.start() + 2
                    continue
                self._in_string = False
                pos = m.end()
                continue
            m = _JSON_STRUCT.search(buf, pos)
            if m is None:
                pos = n
                break
            c = buf[m.start()]
            pos = m.end()
            if c == 0x22:
                self._in_string = True
            elif c in (0x7B, 0x5B):  # { [
                if self._depth == 0:
                    self._start = m.start()
                self._depth += 1
            elif c in (0x7D, 0x5D):  # } ]
                if self._depth == 0:
                    if c == 0x5D:
                        self._done = True
                        break
                    raise ValueError(f"Gemini JSON stream: unbalanced '}}' at byte {m.start()}")
                self._depth -= 1
                if self._depth == 0:
                    elem = bytes(buf[self._start : pos])
                    try:
                        out.append(json.loads(elem))
                    except ValueError as e:
                        raise ValueError(f"Gemini JSON stream: bad element: {e}") from e
                    self._start = -1
        # drop consumed bytes so the buffer holds at most one partial element
        keep = self._start if self._start >= 0 else pos
        if keep > 0:
            del buf[:keep]
            pos -= keep
            if self._start >= 0:
                self._start = 0
        self._pos = pos
        return out

    @property
    def finished(self) -> bool:
        return self._done


def encode_json_array_element(obj: Any, first: bool) -> bytes:
    """Gemini's array framing: `[` before the first element, `,\\r\\n` between elements."""
    return (b"[" if first else b",\r\n") + json.dumps(obj, separators=(",", ":")).encode()
