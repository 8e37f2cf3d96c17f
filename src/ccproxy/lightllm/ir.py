"""The intermediate representation every wire format parses into and renders from.

Every node carries two per-wire side tables so that a same-format round trip is lossless:

- `extras[wire]`: JSON keys the parser did not understand, re-emitted verbatim when rendering
  back to that wire and dropped (with a debug log naming them) for any other wire;
- `hints[wire]`: representation choices of that wire (string vs. block content, which of two
  spellings a key used, the exact original of a value the IR normalises) that only matter
  when rendering back to the same wire.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic._internal._model_construction import ModelMetaclass

log = logging.getLogger("ccproxy.lightllm")

# Provider `type:` values in ccproxy.yaml; "openai" is OpenAI Chat Completions.
Wire = Literal["anthropic", "openai", "openai_responses", "gemini"]
WIRES: tuple[Wire, ...] = ("anthropic", "openai", "openai_responses", "gemini")

# Anthropic's stop reasons are the richest set; other formats map onto them.
StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal", "pause_turn", "error"]


class ConversionError(ValueError):
    """A body that cannot be parsed or rendered; the message names the key path."""


class Usage(BaseModel):
    # input_tokens counts every prompt token, cached ones included (OpenAI/Gemini semantics);
    # output_tokens includes reasoning tokens. Anthropic's split counts are derived on render.
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


if TYPE_CHECKING:  # to type checkers IR classes are plain pydantic models (typed constructors)
    _NodeMeta = ModelMetaclass
else:

    class _NodeMeta(ModelMetaclass):
        # isinstance/issubclass against IR classes is lightllm's most frequent test (every part of
        # every turn, each way); pydantic's metaclass sends it through two Python-level checks for
        # ABC registrations, which IR classes never have: ~1.4 us a check, ~0.15 with the C slots.
        __instancecheck__ = type.__instancecheck__
        __subclasscheck__ = type.__subclasscheck__


class Node(BaseModel, metaclass=_NodeMeta):
    model_config = ConfigDict(extra="forbid")

    extras: dict[str, dict[str, Any]] = Field(default_factory=dict)
    hints: dict[str, dict[str, Any]] = Field(default_factory=dict)


class Citation(Node):
    """A source behind a span of answer text (web result, document passage, search result).

    `start`/`end` are character offsets into the text of the part that carries the citation
    (None: the whole part, as Anthropic cites whole text blocks). `kind` says what is cited:
    `url` (web page; OpenAI url_citation, Gemini web grounding, Anthropic web search result),
    `document` (a passage of a document in the request: Anthropic char/page/block location),
    `search_result` (Anthropic search_result blocks, Perplexity search_results),
    `file` (OpenAI file_citation)."""

    kind: Literal["url", "document", "search_result", "file"] = "url"
    url: str | None = None
    title: str | None = None
    cited_text: str | None = None
    start: int | None = None
    end: int | None = None
    # document / search result / file being cited, and where in it
    source_index: int | None = None
    file_id: str | None = None
    location: dict[str, Any] | None = None


class TextPart(Node):
    type: Literal["text"] = "text"
    text: str
    # Gemini thoughtSignature bound to this part; only Gemini can take it back.
    signature: str | None = None
    citations: list[Citation] | None = None


class MediaPart(Node):
    """An image or document given inline (base64 `data`) or by `url` (http(s) or file id)."""

    type: Literal["media"] = "media"
    kind: Literal["image", "document", "audio"] = "image"
    media_type: str | None = None
    data: str | None = None
    url: str | None = None
    # Plain-text documents (Anthropic `source.type: text`).
    text: str | None = None
    filename: str | None = None


class ToolCallPart(Node):
    type: Literal["tool_call"] = "tool_call"
    id: str | None = None
    name: str
    arguments: Any = Field(default_factory=dict)
    # The exact argument string when the wire carries a string (OpenAI); kept so a
    # same-wire round trip and invalid JSON from a model survive unchanged.
    arguments_raw: str | None = None
    # Gemini thoughtSignature bound to the functionCall part.
    signature: str | None = None


class ToolResultPart(Node):
    type: Literal["tool_result"] = "tool_result"
    tool_call_id: str | None = None
    name: str | None = None
    content: list[TextPart | MediaPart] = Field(default_factory=list)
    is_error: bool | None = None


class ThinkingPart(Node):
    """Reasoning text plus the opaque state its provider needs back on the next turn.

    `signature` is Anthropic's thinking signature, OpenAI Responses' `encrypted_content`
    or Gemini's thoughtSignature; `origin` names the wire that issued it, because no
    provider accepts another provider's signature.
    """

    type: Literal["thinking"] = "thinking"
    text: str = ""
    signature: str | None = None
    origin: Wire | None = None


class RedactedThinkingPart(Node):
    type: Literal["redacted_thinking"] = "redacted_thinking"
    data: str
    origin: Wire = "anthropic"


class OpaquePart(Node):
    """A provider-specific block with no cross-format meaning (server tool calls and results,
    citations containers, executable code, ...): rendered back to `origin` only."""

    type: Literal["opaque"] = "opaque"
    origin: Wire
    data: dict[str, Any]


Part = Annotated[
    TextPart | MediaPart | ToolCallPart | ToolResultPart | ThinkingPart | RedactedThinkingPart | OpaquePart,
    Field(discriminator="type"),
]


class Message(Node):
    # "system" only for system/developer messages in the middle of a conversation.
    role: Literal["user", "assistant", "system"]
    parts: list[Part] = Field(default_factory=list)


class Tool(Node):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None
    # A provider built-in tool (web search, code execution, ...) kept as its wire JSON.
    builtin: dict[str, Any] | None = None
    builtin_origin: Wire | None = None


class ToolChoice(Node):
    mode: Literal["auto", "none", "required", "tool"] = "auto"
    name: str | None = None
    parallel: bool | None = None


class ResponseFormat(Node):
    type: Literal["text", "json_object", "json_schema"] = "text"
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    name: str | None = None
    strict: bool | None = None
    description: str | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Reasoning(Node):
    enabled: bool | None = None
    effort: str | None = None
    budget_tokens: int | None = None
    summary: str | None = None
    include_thoughts: bool | None = None


class Request(Node):
    model: str | None = None
    system: list[TextPart] | None = None
    messages: list[Message] = Field(default_factory=list)
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    stop: list[str] | None = None
    stream: bool | None = None
    response_format: ResponseFormat | None = None
    reasoning: Reasoning | None = None
    # End-user identifier (Anthropic metadata.user_id, OpenAI user / safety_identifier).
    user: str | None = None
    metadata: dict[str, Any] | None = None


class Response(Node):
    id: str | None = None
    model: str | None = None
    parts: list[Part] = Field(default_factory=list)
    stop_reason: StopReason | None = None
    stop_sequence: str | None = None
    usage: Usage | None = None
    created: int | None = None


class ErrorInfo(Node):
    """An upstream error, normalised: HTTP status plus Anthropic-style `type`."""

    status: int
    type: str
    message: str
    code: str | None = None
    param: str | None = None


# ---- helpers shared by the wire modules -------------------------------------------------


def unknown(d: Mapping[str, Any], known: Iterable[str]) -> dict[str, Any]:
    ks = set(known)
    return {k: v for k, v in d.items() if k not in ks}


def keep(node: Node, wire: Wire, d: Mapping[str, Any], known: Iterable[str], **hints: Any) -> None:
    """Record on `node` the keys of `d` outside `known`, and representation hints.

    `hints[wire]` is always set, so `wire in node.hints` tells a renderer that the node was
    parsed from that wire and should be reproduced exactly."""
    extra = unknown(d, known)
    if extra:
        node.extras[wire] = extra
    node.hints[wire] = {k: v for k, v in hints.items() if v is not None}


def extras_for(node: Node, wire: Wire, where: str = "") -> dict[str, Any]:
    """The unknown keys to re-emit on `wire`; other wires' extras are dropped, loudly."""
    for other, extra in node.extras.items():
        if other != wire and extra:
            log.debug(
                "lightllm: dropped %s-only field(s) %s%s rendering %s",
                other,
                sorted(extra),
                f" at {where}" if where else "",
                wire,
            )
    return dict(node.extras.get(wire, {}))


def hint(node: Node, wire: Wire, key: str, default: Any = None) -> Any:
    return node.hints.get(wire, {}).get(key, default)


def dropped(what: str, wire: Wire) -> None:
    log.debug("lightllm: dropped %s rendering %s (no equivalent)", what, wire)


def need(d: Any, key: str, where: str, kind: type | tuple[type, ...] = object) -> Any:
    if not isinstance(d, dict):
        raise ConversionError(f"{where}: expected an object")
    if key not in d:
        raise ConversionError(f"{where}.{key}: missing")
    v = d[key]
    if not isinstance(v, kind):
        raise ConversionError(f"{where}.{key}: unexpected type {type(v).__name__}")
    return v


def as_obj(d: Any, where: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise ConversionError(f"{where}: expected an object, got {type(d).__name__}")
    return d


def as_list(d: Any, where: str) -> list[Any]:
    if not isinstance(d, list):
        raise ConversionError(f"{where}: expected an array, got {type(d).__name__}")
    return d


def put(d: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        d[key] = value


# ---- reasoning effort <-> thinking budget ------------------------------------------------

EFFORT_BUDGET: dict[str, int] = {
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 24576,
    "xhigh": 32768,
    "max": 32768,
}


def budget_for(r: Reasoning) -> int | None:
    if r.budget_tokens is not None:
        return r.budget_tokens
    if r.effort is not None:
        return EFFORT_BUDGET.get(r.effort, EFFORT_BUDGET["medium"])
    return None


def effort_for(r: Reasoning) -> str | None:
    if r.effort is not None:
        return r.effort
    if r.budget_tokens is None:
        return None
    if r.budget_tokens <= EFFORT_BUDGET["low"]:
        return "low"
    if r.budget_tokens <= EFFORT_BUDGET["medium"]:
        return "medium"
    return "high"


# ---- conversation normalisation used between different wires ---------------------------


def merge_adjacent(messages: list[Message]) -> list[Message]:
    """Merge consecutive same-role messages (Responses items, OpenAI tool messages arrive one
    per item) and put tool results first in a user turn, as Anthropic and OpenAI require."""
    # A merged or reordered turn is a new node; the others are shared with `messages` (nodes are
    # never changed in place).
    out: list[Message] = []
    for m in messages:
        if out and out[-1].role == m.role and m.role != "system":
            prev = out[-1]
            out[-1] = prev.model_copy(update={"parts": [*prev.parts, *m.parts]})
        else:
            out.append(m)
    for i, m in enumerate(out):
        if m.role == "user" and any(isinstance(p, ToolResultPart) for p in m.parts):
            results = [p for p in m.parts if isinstance(p, ToolResultPart)]
            rest = [p for p in m.parts if not isinstance(p, ToolResultPart)]
            out[i] = m.model_copy(update={"parts": results + rest})
    return out


def tool_names_by_id(messages: Iterable[Message]) -> dict[str, str]:
    return {p.id: p.name for m in messages for p in m.parts if isinstance(p, ToolCallPart) and p.id is not None}
