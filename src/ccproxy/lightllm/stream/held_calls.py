"""Parallel tool calls held back until the open one closes.

Anthropic content blocks and Responses output items cannot interleave, while Chat and Gemini
stream several calls at once. A call that starts while another is open waits here, with its
argument pieces, and is streamed in order once the open one closes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class HeldCall[T]:
    opening: T  # what the renderer needs to open the call's block or item
    args: list[str] = field(default_factory=list)
    ended: bool = False


class HeldCalls[T]:
    def __init__(self) -> None:
        self._calls: dict[int, HeldCall[T]] = {}  # tool ordinal → call, in arrival order

    def __bool__(self) -> bool:
        return bool(self._calls)

    def __contains__(self, index: int) -> bool:
        return index in self._calls

    def hold(self, index: int, opening: T) -> None:
        self._calls[index] = HeldCall(opening)

    def add_args(self, index: int, args: str) -> None:
        self._calls[index].args.append(args)

    def end(self, index: int) -> None:
        if index in self._calls:
            self._calls[index].ended = True

    def flush(
        self,
        open_call: Callable[[int, T], bytes],
        args_delta: Callable[[T, str], bytes],
        close: Callable[[], bytes],
        everything: bool = False,
    ) -> bytes:
        """Stream the held calls in order; one still receiving arguments stays open (unless
        `everything`: something else comes next, so every call is complete)."""
        out = b""
        while self._calls:
            index = next(iter(self._calls))
            call = self._calls.pop(index)
            out += open_call(index, call.opening)
            if call.args:
                out += args_delta(call.opening, "".join(call.args))
            if not call.ended and not everything:
                return out
            out += close()
        return out
