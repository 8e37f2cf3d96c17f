"""Gemini through Google's Code Assist API (the `cloudcode-pa` host gemini-cli's OAuth login uses).

It speaks generateContent, but wrapped: the request is the `v1internal` envelope
`{model, project, user_prompt_id, request: {..., session_id}}` posted to `/v1internal:{action}`,
and each answer (every event of a stream, too) is `{response: {...}, traceId?}`.
Pure functions only; the prewarm (loadCodeAssist / onboardUser) lives in ccproxy.providers.code_assist.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode

from ccproxy.lightllm.gemini import parse_path

DEFAULT_HOST = "cloudcode-pa.googleapis.com"
VERSION = "v1internal"
# Actions the envelope applies to; others (embedContent, ...) have no Code Assist counterpart.
WRAPPED_ACTIONS = ("generateContent", "streamGenerateContent", "countTokens")
_SESSION_NS = uuid.UUID("5c4b0a52-5d8e-4c1b-9c61-6c2f8d3e0a17")


def is_code_assist_path(path: str) -> bool:
    return path.split("?", 1)[0].startswith(f"/{VERSION}:")


def action_of(path: str) -> str | None:
    """`/v1internal:streamGenerateContent?alt=sse` -> `streamGenerateContent`."""
    if not is_code_assist_path(path):
        return None
    return path.split("?", 1)[0].split(":", 1)[1]


def target_path(action: str, stream: bool) -> str:
    return f"/{VERSION}:{action}" + ("?alt=sse" if stream else "")


def is_wrapped(body: Any) -> bool:
    """An envelope already (a client that speaks Code Assist itself): passes through unchanged."""
    return isinstance(body, dict) and isinstance(body.get("request"), dict) and ("model" in body or "project" in body)


def session_id_for(body: dict[str, Any], known: str | None) -> str:
    """A session id stable per conversation: the client's own when ccproxy learned one, else
    derived from how the conversation starts (system instruction + first turn)."""
    if known:
        return known
    contents = body.get("contents") or []
    seed = json.dumps([body.get("systemInstruction"), contents[:1]], sort_keys=True, default=str)
    return str(uuid.uuid5(_SESSION_NS, hashlib.sha256(seed.encode()).hexdigest()))


def wrap_request(
    body: dict[str, Any], model: str, action: str, *, project: str | None, session_id: str, prompt_id: str
) -> dict[str, Any]:
    if action == "countTokens":
        # countTokens takes `models/<model>` and only the contents, and no project
        return {"request": {"model": f"models/{model}", "contents": body.get("contents") or []}}
    envelope: dict[str, Any] = {"model": model}
    if project:
        envelope["project"] = project
    envelope["user_prompt_id"] = prompt_id
    envelope["request"] = {**body, "session_id": session_id}
    return envelope


def public_target(path: str) -> tuple[str, str, bool] | None:
    """(model, action, stream) of a public Gemini API path that the envelope applies to."""
    parsed = parse_path(path)
    if parsed is None or parsed[2] not in WRAPPED_ACTIONS:
        return None
    _version, model, action = parsed
    return model, action, action == "streamGenerateContent"


def strip_query(path: str, drop: tuple[str, ...] = ("alt", "key")) -> str:
    """The query that survives the rewrite (the API key never goes; alt is set by target_path)."""
    if "?" not in path:
        return ""
    kept = [(k, v) for k, v in parse_qsl(path.split("?", 1)[1], keep_blank_values=True) if k not in drop]
    return urlencode(kept)


def unwrap_on_return(info: Any) -> bool:
    """Whether answers to a flow (its `ccproxy.code_assist` metadata) lose the envelope: yes when
    ccproxy wrapped the request, no when the client sent the envelope itself and expects it back."""
    return isinstance(info, dict) and info.get("wrapped_by") != "client"


def unwrap(obj: Any) -> Any:
    """`{response: {...}, traceId}` -> the generateContent response inside; anything else unchanged
    (errors come unwrapped, as `{error: {...}}`)."""
    if isinstance(obj, dict) and isinstance(obj.get("response"), dict) and "candidates" not in obj:
        return obj["response"]
    return obj
