"""Response ids in the client's format, derived from the upstream's id.

A converted answer must carry an id its client recognises (`msg_…` for Anthropic SDKs,
`chatcmpl-…` for Chat, `resp_…` for Responses, a bare `responseId` for Gemini). The id is a
stable function of the upstream id (same upstream answer → same client id, so logs and
retries correlate); the upstream id itself is kept in the flow (`ccproxy.upstream_id`).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from ccproxy.lightllm.ir import Wire

PREFIX: dict[str, str] = {"anthropic": "msg_", "openai": "chatcmpl-", "openai_responses": "resp_", "gemini": ""}
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


# Two base-62 digits at a time, least significant first: r = lo + 62 * hi -> _PAIRS[r] == lo + hi.
_PAIRS = [lo + hi for hi in _ALPHABET for lo in _ALPHABET]


def _base62(digest: bytes, n: int) -> str:
    """The `n` least significant base-62 digits of `digest`, least significant first."""
    v = int.from_bytes(digest, "big")
    out = []
    for _ in range(n // 2):  # half the divisions of the 256-bit number
        v, r = divmod(v, 3844)
        out.append(_PAIRS[r])
    if n % 2:
        out.append(_ALPHABET[v % 62])
    return "".join(out)


def has_shape(wire: Wire, value: str) -> bool:
    prefix = PREFIX[wire]
    return bool(value) and value.startswith(prefix) and len(value) > len(prefix)


def client_id(wire: Wire, upstream_id: str | None) -> str:
    """The id to show a `wire` client: the upstream id when it already has the shape, else one
    derived from it (random when the upstream gave none)."""
    # a Gemini responseId has no prefix: any other wire's id would look foreign, so always derive
    if upstream_id and wire != "gemini" and has_shape(wire, upstream_id):
        return upstream_id
    seed = upstream_id.encode() if upstream_id else uuid.uuid4().bytes
    body = _base62(hashlib.sha256(seed).digest(), 24)
    return PREFIX[wire] + body


def upstream_id(wire: Wire, body: Any) -> str | None:
    """The response id in a buffered answer of `wire` (Gemini: `responseId`)."""
    if not isinstance(body, dict):
        return None
    v = body.get("responseId" if wire == "gemini" else "id")
    return v if isinstance(v, str) else None
