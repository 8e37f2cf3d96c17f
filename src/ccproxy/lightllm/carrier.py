"""Opaque carriers: provider reasoning state smuggled through a client of another format.

A provider needs its own reasoning state back on the next turn of a tool loop (Anthropic
rejects a tool_result turn whose assistant turn lost its signed thinking block; Gemini 3
rejects functionCall parts without their thoughtSignature). When the client speaks another
format, ccproxy packs that state into a field the client echoes back unchanged and unpacks it
when the next request arrives:

- Anthropic clients: a `thinking` block whose `signature` is a carrier;
- OpenAI Responses clients: a `reasoning` item whose `encrypted_content` is a carrier;
- Gemini clients: a thought part whose `thoughtSignature` is a carrier;
- every client: a tool call id `<id>__ccx1_<carrier>` for state bound to that call (Gemini's
  functionCall signature, and for OpenAI Chat, which has no reasoning field a client echoes,
  the reasoning parts that preceded the call).

A carrier is base64 of `ccx1` + zlib(JSON list of IR parts). Plain base64 so that clients
which decode signatures as bytes (google-genai) re-encode it unchanged; both base64 alphabets
are accepted on the way back.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ccproxy.lightllm.ir import Part

MAGIC = b"ccx1"
ID_MARK = "__ccx1_"
_PARTS: TypeAdapter[list[Any]] = TypeAdapter(list[Part])


def pack(parts: list[Any], *, urlsafe: bool = False) -> str:
    raw = json.dumps(
        [p.model_dump(mode="json", exclude_defaults=True) | {"type": p.type} for p in parts],
        separators=(",", ":"),
    ).encode()
    blob = MAGIC + zlib.compress(raw, 9)
    if urlsafe:
        return base64.urlsafe_b64encode(blob).decode().rstrip("=")
    return base64.b64encode(blob).decode()


def unpack(s: str | None) -> list[Any] | None:
    """The parts packed in `s`, or None when `s` is a real provider value."""
    if not s or len(s) < 8:
        return None
    padded = s + "=" * (-len(s) % 4)
    try:
        blob = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None
    if not blob.startswith(MAGIC):
        return None
    try:
        return _PARTS.validate_python(json.loads(zlib.decompress(blob[len(MAGIC) :])))
    except (zlib.error, ValueError, ValidationError):
        return None


def pack_id(call_id: str, parts: list[Any]) -> str:
    if not parts:
        return call_id
    return f"{call_id}{ID_MARK}{pack(parts, urlsafe=True)}"


def unpack_id(call_id: str | None) -> tuple[str | None, list[Any]]:
    """Split a tool call id into the original id and the parts packed into it."""
    if call_id is None or ID_MARK not in call_id:
        return call_id, []
    base, _, blob = call_id.partition(ID_MARK)
    parts = unpack(blob)
    if parts is None:
        return call_id, []
    return base, parts
