"""Token usage of a recorded response, for the store's usage columns.

The per-wire meaning of the usage fields lives in lightllm (``lightllm.vocab.<wire>.usage_in``; ``lightllm.usage``
has whole-answer extractors too); this
module only finds the usage objects in a body, JSON or an event stream, and merges the ones a
stream sends more than once (Anthropic's message_start then message_delta, Gemini's every chunk):
the latest value of each field wins.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from ccproxy.lightllm.ir import Usage, Wire
from ccproxy.lightllm.vocab import anthropic, gemini, openai_chat, openai_responses

# one usage table per wire, shared with the converters (lightllm/vocab)
USAGE_FROM: dict[str, Callable[[dict[str, Any]], Usage]] = {
    "anthropic": anthropic.usage_in,
    "openai": openai_chat.usage_in,
    "openai_responses": openai_responses.usage_in,
    "gemini": gemini.usage_in,
}
_USAGE_KEYS = ("usage", "usageMetadata")


def _documents(body: bytes) -> Iterator[Any]:
    stripped = body.lstrip()
    if stripped[:1] in (b"{", b"["):
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        if doc is not None:
            yield from doc if isinstance(doc, list) else [doc]  # Gemini's non-SSE stream is an array
            return
    for line in body.splitlines():
        if line.startswith(b"data:"):
            data = line[5:].strip()
            if data and data != b"[DONE]":
                try:
                    yield json.loads(data)
                except ValueError:
                    continue


def body_documents(body: bytes) -> Iterator[Any]:
    """The JSON documents of a body: the document itself, a JSON array's items, or SSE data events."""
    return _documents(body)


def _usage_objects(doc: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(doc, dict):
        return
    for holder in (doc, doc.get("message"), doc.get("response")):
        if isinstance(holder, dict):
            for key in _USAGE_KEYS:
                if isinstance(holder.get(key), dict):
                    yield holder[key]


def body_usage(body: bytes | None, wire: Wire | str | None) -> Usage | None:
    """Usage reported in ``body`` (an upstream response of ``wire``), or None when it has none."""
    convert = USAGE_FROM.get(wire or "")
    if not body or convert is None or (b"sage" not in body):  # usage / usageMetadata
        return None
    merged: dict[str, Any] = {}
    try:
        for doc in _documents(body):
            for usage in _usage_objects(doc):
                merged.update({k: v for k, v in usage.items() if v is not None})
    except (UnicodeDecodeError, RecursionError):
        return None
    if not merged:
        return None
    try:
        return convert(merged)
    except (TypeError, ValueError):
        return None
