"""Pieces shared by the wire modules: reasoning carried through foreign clients, counts,
data URIs and stop reasons that depend on content."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any, Literal

from ccproxy.lightllm import carrier
from ccproxy.lightllm.ir import (
    Message,
    Part,
    RedactedThinkingPart,
    ThinkingPart,
    ToolCallPart,
    Wire,
    dropped,
)

Direction = Literal["request", "response"]


def native(part: Any, wire: Wire) -> bool:
    """Whether `wire` accepts this reasoning part as its own."""
    if isinstance(part, RedactedThinkingPart):
        return part.origin == wire
    if isinstance(part, ThinkingPart):
        return part.origin == wire or (part.origin is None and part.signature is None and wire != "anthropic")
    return True


def reasoning_for(part: Any, wire: Wire, direction: Direction) -> tuple[str, str | None] | None:
    """How to render a reasoning part on `wire`: (text, signature) or None to drop it.

    Towards a provider (request) a foreign signature is useless and rejected, so the part is
    dropped; towards a client (response) it is packed into a carrier the client echoes back.
    """
    text = part.text if isinstance(part, ThinkingPart) else ""
    if native(part, wire):
        sig = part.data if isinstance(part, RedactedThinkingPart) else part.signature
        return text, sig
    if direction == "request":
        dropped(f"{part.type} from {part.origin or 'an unsigned source'}", wire)
        return None
    return text, carrier.pack([part])


def expand_carried(parts: Sequence[Any]) -> list[Any]:
    """Replace reasoning parts whose signature is a carrier by the parts packed in it, and
    restore tool call ids (and the state packed into them)."""
    out: list[Any] = []
    for p in parts:
        if isinstance(p, ThinkingPart) and p.signature is not None:
            inner = carrier.unpack(p.signature)
            if inner is not None:
                out.extend(inner)
                continue
        if isinstance(p, ToolCallPart):
            base, inner = carrier.unpack_id(p.id)
            if inner:
                sig = next((q.signature for q in inner if isinstance(q, ToolCallPart)), None)
                lead = [q for q in inner if not isinstance(q, ToolCallPart)]
                # Reasoning that preceded the call goes before the first text/call of the turn.
                insert_at = next(
                    (i for i, q in enumerate(out) if not isinstance(q, ThinkingPart | RedactedThinkingPart)),
                    len(out),
                )
                out[insert_at:insert_at] = lead
                p = p.model_copy(update={"id": base, "signature": sig or p.signature})
        out.append(p)
    return out


def restore_ids(messages: list[Message]) -> list[Message]:
    """Expand carriers in every assistant turn and strip them from tool result ids."""
    from ccproxy.lightllm.ir import ToolResultPart

    fixed: list[Message] = []
    for m in messages:
        parts = expand_carried(m.parts)
        parts = [
            p.model_copy(update={"tool_call_id": carrier.unpack_id(p.tool_call_id)[0]})
            if isinstance(p, ToolResultPart)
            else p
            for p in parts
        ]
        # A turn with nothing to restore is kept as it is: the parser's messages are its own
        # (a copy per message per request was most of a long conversation's parse).
        unchanged = len(parts) == len(m.parts) and all(a is b for a, b in zip(parts, m.parts, strict=True))
        fixed.append(m if unchanged else m.model_copy(update={"parts": parts}))
    return fixed


def client_call_id(part: ToolCallPart, wire: Wire, direction: Direction, lead: Sequence[Any] = ()) -> str:
    """The tool call id to show on `wire`, carrying state the next turn needs (see carrier)."""
    call_id = part.id if part.id or (part.id == "" and wire in part.hints) else f"call_{uuid.uuid4().hex[:24]}"
    if direction == "request":
        if part.signature is not None and wire != "gemini":
            dropped("Gemini thoughtSignature of a functionCall", wire)
        return call_id
    packed: list[Part] = list(lead)
    if part.signature is not None and wire != "gemini":
        packed.append(ToolCallPart(name=part.name, signature=part.signature))
    return carrier.pack_id(call_id, packed)


def args_json(part: ToolCallPart) -> str:
    if part.arguments_raw is not None:
        return part.arguments_raw
    return json.dumps(part.arguments, ensure_ascii=False, separators=(",", ":"))


def args_obj(part: ToolCallPart) -> Any:
    return part.arguments if part.arguments is not None else {}


def parse_args(raw: str) -> Any:
    try:
        return json.loads(raw) if raw.strip() else {}
    except ValueError:
        # Models sometimes emit broken JSON; keep the string so nothing is lost.
        return {}


def data_uri(media_type: str | None, data: str) -> str:
    return f"data:{media_type or 'application/octet-stream'};base64,{data}"


def split_data_uri(url: str) -> tuple[str | None, str] | None:
    if not url.startswith("data:") or ";base64," not in url:
        return None
    head, _, data = url.partition(";base64,")
    return head[5:] or None, data


def counts_shape(d: dict[str, Any], keys: Sequence[str]) -> dict[str, str]:
    """Which count keys were absent or null, so a same-wire render reproduces that."""
    shape: dict[str, str] = {}
    for k in keys:
        if k not in d:
            shape[k] = "absent"
        elif d[k] is None:
            shape[k] = "null"
    return shape


def put_count(out: dict[str, Any], key: str, value: int, shape: dict[str, str], *, default: str = "put") -> None:
    form = shape.get(key, default)
    if form == "absent" and value == 0:
        return
    if form == "null" and value == 0:
        out[key] = None
        return
    out[key] = value


def int_or0(v: Any) -> int:
    return v if isinstance(v, int) else 0
