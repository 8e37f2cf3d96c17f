"""StreamConverter: upstream bytes of one wire format in, client bytes of another out."""

from __future__ import annotations

import logging

from ccproxy.lightllm.ir import Wire
from ccproxy.lightllm.stream import tail
from ccproxy.lightllm.stream.anthropic import AnthropicIntake, AnthropicRenderer
from ccproxy.lightllm.stream.base import Renderer
from ccproxy.lightllm.stream.events import ConversionError, RequestContext, StreamError, StreamEvent
from ccproxy.lightllm.stream.gemini import GeminiIntake, GeminiRenderer
from ccproxy.lightllm.stream.openai_chat import OpenAIChatIntake, OpenAIChatRenderer
from ccproxy.lightllm.stream.openai_responses import OpenAIResponsesIntake, OpenAIResponsesRenderer

log = logging.getLogger("ccproxy.lightllm.stream")

Intake = AnthropicIntake | OpenAIChatIntake | OpenAIResponsesIntake | GeminiIntake


def make_intake(wire: Wire, gemini_sse: bool = True) -> Intake:
    match wire:
        case "anthropic":
            return AnthropicIntake()
        case "openai":
            return OpenAIChatIntake()
        case "openai_responses":
            return OpenAIResponsesIntake()
        case "gemini":
            return GeminiIntake(sse=gemini_sse)
    raise ValueError(f"unknown wire format {wire!r}")


def make_renderer(wire: Wire, ctx: RequestContext) -> Renderer:
    match wire:
        case "anthropic":
            return AnthropicRenderer(ctx)
        case "openai":
            return OpenAIChatRenderer(ctx)
        case "openai_responses":
            return OpenAIResponsesRenderer(ctx)
        case "gemini":
            return GeminiRenderer(ctx)
    raise ValueError(f"unknown wire format {wire!r}")


# Valid JSON of the wrong shape (`{"message": "oops"}`, `"candidates": {}`, a list where an
# object belongs) surfaces as one of these deep in an intake; like convert._guarded for
# buffered bodies, they end the stream with an error event at once instead of escaping into
# mitmproxy (the client would wait for the idle timeout).
SHAPE_ERRORS = (ConversionError, ValueError, TypeError, KeyError, AttributeError, IndexError)


def _event_start(buf: bytes, end: int) -> int:
    """Start of the event that ends at `end` (just after its blank line), without copying."""
    while end and buf[end - 1] in (10, 13):  # the blank line itself: at most 4 bytes
        end -= 1
    best = 0
    for sep in (b"\n\n", b"\r\r", b"\n\r\n"):
        i = buf.rfind(sep, 0, end)
        if i >= 0:
            best = max(best, i + len(sep))
    return best


def _last_boundary(buf: bytes) -> int:
    """End offset of the last complete SSE event (blank line) in buf, or 0."""
    best = 0
    for sep in (b"\n\n", b"\r\r", b"\n\r\n"):
        i = buf.rfind(sep)
        if i >= 0:
            best = max(best, i + len(sep))
    return best


class StreamConverter:
    """Converts one response stream, chunk by chunk, never buffering more than one event.

    Same wire and framing: bytes pass through unchanged, except that a trailing partial event is
    held back until it completes, so that `fail()` can always append a well-formed error event.
    """

    def __init__(
        self,
        src_wire: Wire,
        dst_wire: Wire,
        request_context: RequestContext | None = None,
        *,
        upstream_gemini_sse: bool = True,
    ) -> None:
        self.ctx = request_context or RequestContext()
        self.src, self.dst = src_wire, dst_wire
        self.passthrough = src_wire == dst_wire and (src_wire != "gemini" or upstream_gemini_sse == self.ctx.gemini_sse)
        # the Gemini JSON array has no event boundaries to hold back at, so it converts even to itself
        self._intake: Intake | None = None if self.passthrough else make_intake(src_wire, upstream_gemini_sse)
        self._renderer = make_renderer(dst_wire, self.ctx)
        self._held = b""
        # the last two chunks relayed (whole events): the tail check at close looks in them
        self._relayed: tuple[bytes, bytes] = (b"", b"")
        self.error: str | None = None
        self.events = 0  # IR events converted (for benchmarks and flow metadata)

    @property
    def upstream_id(self) -> str:
        """The upstream's response id (converted streams; the client saw one in its format)."""
        return self._renderer.upstream_id

    @property
    def finished(self) -> bool:
        """The client got a complete stream (terminal event or error)."""
        if self.passthrough:
            return self._held == b"" and self._renderer.done
        return self._renderer.done

    def feed(self, chunk: bytes) -> bytes:
        if self._renderer.done:
            return b""
        if self.passthrough:
            buf = self._held + chunk if self._held else chunk
            cut = _last_boundary(buf)
            self._held = buf[cut:]
            out = buf[:cut]
            if cut:
                self._relayed = (self._relayed[1], out)
            return out
        assert self._intake is not None
        try:
            return self._render(self._intake.feed(chunk))
        except SHAPE_ERRORS as e:
            return self.fail(_failure(e))

    def close(self) -> bytes:
        """End of upstream: flush, and give a stream that never finished an error end."""
        if self.passthrough:
            out, self._held = self._held, b""
            # a last event without its blank line (some servers) counts, and goes out as sent
            previous, last = self._last_events(out + b"\n\n" if out.strip() else b"")
            if not tail.ends_cleanly(self.src, last, previous):
                sep = b"\n\n" if out.strip() else b""  # the error event must not join a cut one
                return out + sep + self.fail("upstream stream ended before its final event")
            self._renderer.done = True
            return out
        if self._renderer.done:
            return b""
        assert self._intake is not None
        try:
            out = self._render(self._intake.close())
        except SHAPE_ERRORS as e:
            return self.fail(_failure(e))
        if not self._renderer.done:
            out += self.fail("upstream stream ended before its final event")
        return out

    def _last_events(self, extra: bytes = b"") -> tuple[bytes, bytes]:
        """(previous, last) complete events relayed, each capped for the tail check."""
        buf = self._relayed[0] + self._relayed[1] + extra
        start = _event_start(buf, len(buf))
        previous = buf[_event_start(buf, start) : start] if start else b""
        return tail.cap(previous), tail.cap(buf[start:])

    def fail(self, message: str) -> bytes:
        """A well-formed error event in the client's format; the stream is over afterwards."""
        if self._renderer.done:
            return b""
        self.error = message
        self._held = b""
        log.info("stream %s→%s failed: %s", self.src, self.dst, message)
        return self._renderer.error(message)

    def _render(self, events: list[StreamEvent]) -> bytes:
        self.events += len(events)
        for ev in events:
            if isinstance(ev, StreamError) and self.error is None:
                self.error = f"upstream error: {ev.message}"
        return self._renderer.render(events)


def _failure(e: Exception) -> str:
    if isinstance(e, ValueError):
        return f"stream conversion failed: {e}"
    return f"stream conversion failed: malformed upstream event ({type(e).__name__}: {e})"
