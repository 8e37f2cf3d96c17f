"""Did a same-format stream end with its final event? A tail check, no parse.

Passthrough streams are relayed without parsing (that is what keeps them fast), so a stream
the upstream ends cleanly but early (connection closed after a text delta, no
`message_stop` / `[DONE]` / finish) would look complete. The converter keeps the last two
complete events it relayed (capped) and looks for the wire's terminal marker in them."""

from __future__ import annotations

import re

from ccproxy.lightllm.ir import Wire

_CAP = 8192  # keep head and tail of a larger event: markers sit at either end
LIMIT = 2 * _CAP

# the terminal event of each wire, or an error event (also terminal), in the last event
_LAST: dict[str, re.Pattern[bytes]] = {
    "anthropic": re.compile(rb'"type"\s*:\s*"(message_stop|error)"|^event:\s*(message_stop|error)\s*$', re.M),
    "openai": re.compile(rb'^data:\s*\[DONE\]|"finish_reason"\s*:\s*"|^data:\s*\{\s*"error"', re.M),
    "openai_responses": re.compile(
        rb'"type"\s*:\s*"(response\.(completed|incomplete|failed)|error)"|^event:\s*(response\.(completed|incomplete|failed)|error)\s*$',
        re.M,
    ),
    "gemini": re.compile(rb'"finishReason"\s*:\s*"|"blockReason"\s*:\s*"|^data:\s*\{\s*"error"', re.M),
}
# what may legitimately follow the terminal event (so the one before it is checked too)
_AFTER: dict[str, re.Pattern[bytes]] = {
    # the usage chunk (choices: []) comes after the finish chunk; [DONE] after response.completed
    "openai": re.compile(rb'"choices"\s*:\s*\[\s*\]'),
    "openai_responses": re.compile(rb"^data:\s*\[DONE\]", re.M),
    "gemini": re.compile(rb'"usageMetadata"'),
}


def cap(event: bytes) -> bytes:
    return event if len(event) <= 2 * _CAP else event[:_CAP] + event[-_CAP:]


def ends_cleanly(wire: Wire, last: bytes, previous: bytes = b"") -> bool:
    marker = _LAST[wire]
    if marker.search(last):
        return True
    after = _AFTER.get(wire)
    return bool(after is not None and after.search(last) and marker.search(previous))
