"""IR stream events: what every intake produces and every renderer consumes.

Blocks are implicit for text and thinking (a change of kind closes the previous block);
tool calls are explicit (start / argument deltas / end) and carry the stream's own ordinal
`index`, so interleaved deltas from OpenAI's parallel tool calls stay attributable.
Usage follows the IR convention: `input_tokens` counts all prompt tokens including cache reads
and writes; `output_tokens` counts all generated tokens including reasoning.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ccproxy.lightllm.ir import Citation, StopReason, Usage


@dataclass(slots=True)
class MessageStart:
    id: str
    model: str
    usage: Usage | None = None


@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(slots=True)
class ThinkingDelta:
    text: str


@dataclass(slots=True)
class ThinkingSignature:
    """Opaque proof of the preceding thinking (Anthropic signature, OpenAI encrypted_content,
    Gemini thoughtSignature); the next turn to the same provider needs it back verbatim."""

    signature: str


@dataclass(slots=True)
class RedactedThinking:
    data: str


@dataclass(slots=True)
class ToolCallStart:
    index: int
    id: str
    name: str


@dataclass(slots=True)
class ToolCallDelta:
    index: int
    arguments: str


@dataclass(slots=True)
class ToolCallEnd:
    index: int


@dataclass(slots=True)
class CitationAdded:
    """A source for answer text. `citation.start`/`end` are character offsets into all the
    text of the answer so far (every TextDelta joined); None means the text just streamed
    (the open text block, as Anthropic cites whole blocks)."""

    citation: Citation


@dataclass(slots=True)
class UsageUpdate:
    usage: Usage


@dataclass(slots=True)
class Stop:
    reason: StopReason


@dataclass(slots=True)
class StreamError:
    message: str
    type: str = "api_error"


StreamEvent = (
    MessageStart
    | TextDelta
    | ThinkingDelta
    | ThinkingSignature
    | RedactedThinking
    | ToolCallStart
    | ToolCallDelta
    | ToolCallEnd
    | CitationAdded
    | UsageUpdate
    | Stop
    | StreamError
)


class ConversionError(ValueError):
    """An upstream event that cannot be expressed in the client's grammar."""


@dataclass(slots=True)
class RequestContext:
    """What a renderer needs from the client's original request."""

    model: str = ""
    # OpenAI Chat sends the usage chunk only when the client asked for it.
    include_usage: bool = False
    # Gemini clients choose SSE (`alt=sse`) or the bare JSON array.
    gemini_sse: bool = True
    created: int = field(default_factory=lambda: int(time.time()))


def merge_usage(old: Usage | None, new: Usage) -> Usage:
    """Providers report usage cumulatively but not every field every time: keep the larger."""
    if old is None:
        return new
    return Usage(
        input_tokens=max(old.input_tokens, new.input_tokens),
        output_tokens=max(old.output_tokens, new.output_tokens),
        cache_read_tokens=max(old.cache_read_tokens, new.cache_read_tokens),
        cache_write_tokens=max(old.cache_write_tokens, new.cache_write_tokens),
        reasoning_tokens=max(old.reasoning_tokens, new.reasoning_tokens),
    )
