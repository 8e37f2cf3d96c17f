"""Shared plumbing for intakes (bytes → IR events) and renderers (IR events → bytes)."""

from __future__ import annotations

import json
import logging
from typing import Any

from ccproxy.lightllm.sse import SSEEvent, SSEParser
from ccproxy.lightllm.stream.events import ConversionError, StreamError, StreamEvent

log = logging.getLogger("ccproxy.lightllm.stream")


def loads(data: str) -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except ValueError as e:
        raise ConversionError(f"upstream event is not JSON: {data[:80]!r}") from e
    if not isinstance(obj, dict):
        raise ConversionError(f"upstream event is not a JSON object: {data[:80]!r}")
    return obj


# one encoder, built once: json.dumps with options would construct a new one per call
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def dumps(obj: Any) -> str:
    return _ENCODE(obj)


class SSEIntake:
    """Base for the SSE-framed intakes: subclasses implement `on_event` and `finished`."""

    wire = ""

    def __init__(self) -> None:
        self._parser = SSEParser()
        self.finished = False

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for ev in self._parser.feed(chunk):
            out.extend(self.on_event(ev))
        return out

    def close(self) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for ev in self._parser.close():
            out.extend(self.on_event(ev))
        out.extend(self.on_close())
        return out

    def on_event(self, ev: SSEEvent) -> list[StreamEvent]:
        raise NotImplementedError

    def on_close(self) -> list[StreamEvent]:
        if self.finished:
            return []
        return [StreamError(f"{self.wire} upstream stream ended before its final event")]


class Renderer:
    """Base for renderers: `render` turns a batch of IR events into client bytes.

    After a terminal event (stop or error) everything else is ignored, so an upstream that
    keeps talking after its own end cannot corrupt the client's stream."""

    def __init__(self) -> None:
        self.done = False
        self._dropped_signature = False
        # the upstream's own response id; the client sees one in its own format (lightllm.ids)
        self.upstream_id = ""

    def render(self, events: list[StreamEvent]) -> bytes:
        parts: list[bytes] = []
        for ev in events:
            if self.done:
                break
            parts.append(self.event(ev))
        return b"".join(parts)

    def event(self, ev: StreamEvent) -> bytes:
        raise NotImplementedError

    def finish(self) -> bytes:
        """Called at end of input: a stream that never stopped gets an error end."""
        if self.done:
            return b""
        return self.error("upstream stream ended before its final event")

    def error(self, message: str, type_: str = "api_error") -> bytes:
        raise NotImplementedError

    def drop_signature_once(self, wire: str) -> None:
        if not self._dropped_signature:
            self._dropped_signature = True
            log.debug("thinking signature dropped: %s has no field for it", wire)
