"""`POST /mcp/notify`: terminal events of external MCP servers, buffered per session until the
session's next LLM request picks them up (the `inject_mcp_notifications` hook).

Expiry is lazy (checked when a bucket is touched) and every bucket is bounded, so a client
that notifies and never sends another request costs a bounded amount of memory.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

# Events without a session id go to the next LLM request of any session.
ANY_SESSION = ""
MAX_SESSIONS = 1024


@dataclass(frozen=True)
class McpEvent:
    task_id: str
    status: str
    text: str | None = None
    server: str | None = None
    session_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string, got {type(value).__name__}")
    return value


def parse_event(raw: bytes) -> McpEvent:
    """The request body as an event; ValueError with a one-line reason otherwise."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"body is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"body must be a JSON object, got {type(data).__name__}")
    for key in ("task_id", "status"):
        value = data.get(key)
        if value is None:
            raise ValueError(f"missing field {key!r}")
        if not isinstance(value, str) or not value:
            raise ValueError(f"{key} must be a non-empty string")
    session_id = _optional_str(data, "session_id")
    return McpEvent(
        task_id=data["task_id"],
        status=data["status"],
        text=_optional_str(data, "text"),
        server=_optional_str(data, "server"),
        session_id=session_id or None,
    )


class NotificationBuffer:
    """Per-session FIFO of events with a time-to-live. Used on the event loop only."""

    def __init__(self, ttl: float, max_per_session: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_per_session = max_per_session
        self.clock = clock
        self._buckets: OrderedDict[str, deque[tuple[float, McpEvent]]] = OrderedDict()

    def _live(self, key: str) -> deque[tuple[float, McpEvent]] | None:
        bucket = self._buckets.get(key)
        if bucket is None:
            return None
        now = self.clock()
        while bucket and bucket[0][0] <= now:
            bucket.popleft()
        if not bucket:
            del self._buckets[key]
            return None
        return bucket

    def push(self, event: McpEvent) -> int:
        """Buffer one event; returns how many events that session now has waiting."""
        key = event.session_id or ANY_SESSION
        bucket = self._live(key)
        if bucket is None:
            bucket = self._buckets[key] = deque(maxlen=self.max_per_session)
            while len(self._buckets) > MAX_SESSIONS:
                self._buckets.popitem(last=False)
        bucket.append((self.clock() + self.ttl, event))
        self._buckets.move_to_end(key)
        return len(bucket)

    def take(self, sessions: Iterable[str | None]) -> list[McpEvent]:
        """Remove and return the live events of these sessions (and the session-less ones)."""
        events: list[McpEvent] = []
        seen: set[str] = set()
        for key in [*(s for s in sessions if s), ANY_SESSION]:
            if key in seen:
                continue
            seen.add(key)
            bucket = self._live(key)
            if bucket is not None:
                events.extend(event for _, event in bucket)
                del self._buckets[key]
        return events

    def pending(self, session: str | None = None) -> int:
        bucket = self._live(session or ANY_SESSION)
        return len(bucket) if bucket else 0

    def sessions(self) -> int:
        return len(self._buckets)
