"""Grouping flows into conversations, and token usage per flow.

A flow belongs to a conversation by, in order of preference:
1. the session id the pipeline recorded (``ccproxy.session_id``);
2. the Anthropic ``metadata.user_id`` of the request body (Claude Code puts its session
   id in it, either as ``..._session_<uuid>`` or as a JSON object with ``session_id``);
3. a session header (Codex sends ``session-id``);
4. message-prefix matching: chat clients resend the whole history, so a request whose
   message list extends an earlier request's list continues that conversation.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ccproxy.flows.bodies import body_json, body_text

SESSION_HEADERS = ("session-id", "session_id", "x-session-id", "conversation-id", "conversation_id")
_SESSION_IN_USER_ID = re.compile(r"session_([0-9A-Za-z-]+)")
# Keys that differ between turns of the same conversation without changing its content:
# Claude Code moves cache breakpoints to the newest messages on every turn.
_VOLATILE_KEYS = frozenset({"cache_control", "id"})


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens)


@dataclass
class Conversation:
    key: str
    source: str  # "session" | "header" | "prefix" | "other"
    flows: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    model: str | None = None

    @property
    def turns(self) -> int:
        return len(self.flows)

    @property
    def started(self) -> float | None:
        starts = [f["timestamp_start"] for f in self.flows if f.get("timestamp_start") is not None]
        return min(starts) if starts else None

    @property
    def duration(self) -> float | None:
        started = self.started
        ends = [f.get("timestamp_end") or f.get("timestamp_start") for f in self.flows]
        known = [e for e in ends if e is not None]
        if started is None or not known:
            return None
        return max(known) - started

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "source": self.source,
            "turns": self.turns,
            "input_tokens": self.usage.input_tokens,
            "output_tokens": self.usage.output_tokens,
            "started": self.started,
            "duration": self.duration,
            "model": self.model,
            "flow_ids": [f.get("id") for f in self.flows],
        }


def _header(message: dict[str, Any] | None, names: Iterable[str]) -> str | None:
    headers = {k.lower(): v for k, v in ((message or {}).get("headers") or {}).items()}
    for name in names:
        value = headers.get(name)
        if value:
            return str(value)
    return None


def session_from_user_id(user_id: str) -> str:
    """The session part of Claude Code's ``metadata.user_id``; the whole value otherwise."""
    try:
        parsed = json.loads(user_id)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("session_id"):
        return str(parsed["session_id"])
    match = _SESSION_IN_USER_ID.search(user_id)
    return match.group(1) if match else user_id


def _client_request(flow: dict[str, Any]) -> dict[str, Any]:
    # Group by what the client sent: the pipeline may rewrite bodies into another format.
    return flow.get("client_request") or flow.get("request") or {}


def explicit_key(flow: dict[str, Any]) -> tuple[str, str] | None:
    """(key, source) from a recorded session id, Anthropic metadata or a session header."""
    meta = flow.get("ccproxy") or {}
    if meta.get("session_id"):
        return str(meta["session_id"]), "session"
    body = body_json(_client_request(flow))
    if isinstance(body, dict):
        metadata = body.get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str) and metadata["user_id"]:
            return session_from_user_id(metadata["user_id"]), "session"
    for message in (_client_request(flow), flow.get("request")):
        header = _header(message, SESSION_HEADERS)
        if header:
            return header, "header"
    return None


def _strip_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_volatile(v) for k, v in value.items() if k not in _VOLATILE_KEYS}
    if isinstance(value, list):
        return [_strip_volatile(v) for v in value]
    return value


def message_fingerprints(flow: dict[str, Any]) -> list[str]:
    """One digest per message of the request's history, in any of the four wire formats."""
    body = body_json(_client_request(flow))
    if not isinstance(body, dict):
        return []
    messages: Any = body.get("messages") or body.get("contents") or body.get("input")
    if isinstance(messages, str):  # Responses API accepts a bare string as input
        messages = [{"role": "user", "content": messages}]
    if not isinstance(messages, list):
        return []
    prefix: list[Any] = []
    system = body.get("system") or body.get("systemInstruction") or body.get("instructions")
    if system:
        prefix.append({"system": system})
    return [
        hashlib.sha1(json.dumps(_strip_volatile(m), sort_keys=True).encode(), usedforsecurity=False).hexdigest()
        for m in prefix + messages
    ]


def _model(flow: dict[str, Any]) -> str | None:
    body = body_json(_client_request(flow))
    if isinstance(body, dict) and isinstance(body.get("model"), str):
        return str(body["model"])
    path = str((flow.get("request") or {}).get("path") or "")
    match = re.search(r"/models/([^/:?]+)", path)  # Gemini puts the model in the path
    return match.group(1) if match else None


def _usage_documents(response: dict[str, Any] | None) -> Iterable[Any]:
    text = body_text(response)
    if not text:
        return
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if doc is not None:
            yield from doc if isinstance(doc, list) else [doc]  # Gemini's non-SSE stream is an array
            return
    for line in text.splitlines():
        if line.startswith("data:"):
            data = line[5:].strip()
            if data and data != "[DONE]":
                try:
                    yield json.loads(data)
                except ValueError:
                    continue


def _usage_dicts(doc: Any) -> Iterable[dict[str, Any]]:
    if not isinstance(doc, dict):
        return
    for holder in (doc, doc.get("message"), doc.get("response")):
        if isinstance(holder, dict):
            for key in ("usage", "usageMetadata"):
                if isinstance(holder.get(key), dict):
                    yield holder[key]


_INPUT_FIELDS = ("input_tokens", "prompt_tokens", "promptTokenCount")
# Anthropic reports cached input separately from input_tokens.
_CACHE_FIELDS = ("cache_creation_input_tokens", "cache_read_input_tokens")
_OUTPUT_FIELDS = ("output_tokens", "completion_tokens", "candidatesTokenCount")


def flow_usage(flow: dict[str, Any]) -> Usage:
    """Token usage reported by the upstream response (JSON or SSE, any wire format).

    Streams report usage more than once (Anthropic's message_start then message_delta,
    Gemini on every chunk); the latest value of each field wins.
    """
    latest: dict[str, int] = {}
    for doc in _usage_documents(flow.get("response")):
        for usage in _usage_dicts(doc):
            for name, value in usage.items():
                if isinstance(value, int) and not isinstance(value, bool):
                    latest[name] = value
    input_tokens = next((latest[f] for f in _INPUT_FIELDS if f in latest), 0)
    input_tokens += sum(latest.get(f, 0) for f in _CACHE_FIELDS)
    output_tokens = next((latest[f] for f in _OUTPUT_FIELDS if f in latest), 0)
    output_tokens += latest.get("thoughtsTokenCount", 0)  # Gemini counts thinking separately
    return Usage(input_tokens, output_tokens)


def _longest_prefix(candidates: Sequence[tuple[Any, Sequence[str]]], prints: Sequence[str]) -> int | None:
    """Index of the candidate whose latest history is the longest prefix of ``prints``."""
    best: int | None = None
    for index, (_thread, history) in enumerate(candidates):
        fits = len(history) <= len(prints) and tuple(prints[: len(history)]) == tuple(history)
        if fits and (best is None or len(history) > len(candidates[best][1])):
            best = index
    return best


@dataclass(frozen=True, slots=True)
class ThreadKey:
    """What grouping needs of one flow: its explicit key, else its history's digests."""

    explicit: tuple[str, str] | None
    prints: tuple[str, ...]


def thread_key(flow: dict[str, Any]) -> ThreadKey:
    explicit = explicit_key(flow)
    if explicit is not None:
        return ThreadKey(explicit, ())
    # interned: every later turn of a thread repeats the same digests (the viewer keeps these)
    return ThreadKey(None, tuple(sys.intern(p) for p in message_fingerprints(flow)))


def assign_threads(keys: Iterable[ThreadKey]) -> tuple[list[int], list[tuple[str, str]]]:
    """The thread of each flow, in order (an explicit key; else the thread whose latest history
    is the longest prefix of the flow's; else a new one), and each thread's (key, source).
    Two prefix threads may share a key (same first message, then diverged): ids tell them apart."""
    of_flow: list[int] = []
    threads: list[tuple[str, str]] = []
    by_explicit: dict[tuple[str, str], int] = {}
    # prefix threads by their first message digest, with their latest history
    by_first: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
    other: int | None = None
    for k in keys:
        if k.explicit is not None:
            tid = by_explicit.get(k.explicit)
            if tid is None:
                tid = by_explicit[k.explicit] = len(threads)
                threads.append(k.explicit)
        elif k.prints:
            candidates = by_first.setdefault(k.prints[0], [])
            best = _longest_prefix(candidates, k.prints)
            if best is None:
                tid = len(threads)
                threads.append((f"prefix:{k.prints[0][:12]}", "prefix"))
                candidates.append((tid, k.prints))
            else:
                tid = candidates[best][0]
                candidates[best] = (tid, k.prints)
        else:
            if other is None:
                other = len(threads)
                threads.append(("-", "other"))
            tid = other
        of_flow.append(tid)
    return of_flow, threads


def group_conversations(flows: Sequence[dict[str, Any]]) -> list[Conversation]:
    """Conversations in order of their first flow; flows keep their order inside each."""
    of_flow, threads = assign_threads(thread_key(f) for f in flows)
    conversations = [Conversation(key, source) for key, source in threads]
    for flow, tid in zip(flows, of_flow, strict=True):
        conversation = conversations[tid]
        conversation.flows.append(flow)
        conversation.usage = conversation.usage + flow_usage(flow)
        conversation.model = _model(flow) or conversation.model
    return conversations
