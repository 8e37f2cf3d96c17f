"""Completed flows as numbered events for the viewer's event stream.

mitmproxy answers a request with one whole response, so the stream is served as a sequence
of short Server-Sent-Events answers: a request waits (without holding the event loop) until a
flow newer than its `Last-Event-ID` completes, gets those events, and the browser's
EventSource reconnects at once (`retry:`) with the newest id. No event is lost in between:
the feed keeps the recent ones.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FlowEvent:
    seq: int
    flow_id: str


class LiveFeed:
    """Lives on the event loop: `publish` and `wait_after` are called from it only."""

    def __init__(self, keep: int = 256) -> None:
        self.seq = 0
        self._recent: deque[FlowEvent] = deque(maxlen=keep)
        self._changed: asyncio.Event | None = None

    def publish(self, flow_id: str) -> None:
        self.seq += 1
        self._recent.append(FlowEvent(self.seq, flow_id))
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def after(self, seq: int) -> list[FlowEvent]:
        if seq > self.seq:  # an id from before a daemon restart: everything since start is new
            seq = 0
        return [e for e in self._recent if e.seq > seq]

    async def wait_after(
        self, seq: int, timeout: float, alive: Callable[[], bool] = lambda: True, tick: float = 0.5
    ) -> list[FlowEvent]:
        """The events after `seq`, waiting up to `timeout` seconds for one (empty on timeout).
        `alive` is checked every `tick`: a draining daemon must not wait for an idle page."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            ready = self.after(seq)
            left = deadline - loop.time()
            if ready or left <= 0 or not alive():
                return ready
            if self._changed is None:
                self._changed = asyncio.Event()
            try:
                await asyncio.wait_for(self._changed.wait(), min(tick, left))
            except TimeoutError:
                continue


def sse_text(events: list[FlowEvent], retry_ms: int, cursor: int) -> str:
    """One answer of the event stream. Without events it carries only `id: cursor`: that sets
    the browser's Last-Event-ID without dispatching an event (a first connection starts there)."""
    lines = [f"retry: {retry_ms}", ""]
    for e in events:
        lines += ["event: flow", f"id: {e.seq}", f"data: {e.flow_id}", ""]
    if not events:
        lines += [f"id: {cursor}", ""]
    return "\n".join(lines) + "\n"
