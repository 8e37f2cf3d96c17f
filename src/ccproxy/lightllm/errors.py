"""Error bodies between wire formats, in one place.

An upstream error is parsed into `ErrorInfo` whose `type` is Anthropic's vocabulary (the
richest: it distinguishes overloaded from other server errors), then rendered in the client's
format with the status that client's SDK maps to the right exception class.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ccproxy.lightllm.ir import ErrorInfo, Wire, hint, keep
from ccproxy.lightllm.vocab import anthropic as anthropic_vocab
from ccproxy.lightllm.vocab import gemini as gemini_vocab
from ccproxy.lightllm.vocab import openai_chat as openai_vocab

# Headers worth keeping on a translated error: retry hints, rate-limit state, request ids.
_KEEP = re.compile(r"^(retry-after(-ms)?|x-request-id|request-id|x-ratelimit-.*|anthropic-ratelimit-.*)$", re.I)


def _decode(body: bytes | str | Any) -> Any:
    if isinstance(body, bytes | str):
        try:
            return json.loads(body)
        except ValueError:
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            return {"_text": text.strip()[:2000]}
    return body


def parse_error(wire: Wire, status: int, body: bytes | str | Any) -> ErrorInfo:
    """Normalise an upstream error body of `wire`; never raises on odd bodies."""
    data = _decode(body)
    if wire == "gemini" and isinstance(data, list) and data:
        data = data[0]  # streamed errors arrive as a one-element array
    err = data.get("error") if isinstance(data, dict) else None
    fallback = anthropic_vocab.STATUS_TYPE.get(status, "api_error" if status >= 500 else "invalid_request_error")
    if not isinstance(err, dict):
        msg = data.get("_text") if isinstance(data, dict) else None
        if isinstance(err, str):
            msg = err
        info = ErrorInfo(status=status, type=fallback, message=msg or f"upstream returned HTTP {status}")
        return info
    message = str(err.get("message") or "")
    if wire == "anthropic":
        etype = str(err.get("type") or fallback)
        info = ErrorInfo(
            status=status, type=etype if etype in anthropic_vocab.TYPE_STATUS else fallback, message=message
        )
    elif wire == "gemini":
        gstatus = err.get("status")
        etype = gemini_vocab.STATUS_IN.get(gstatus, fallback) if isinstance(gstatus, str) else fallback
        info = ErrorInfo(status=status, type=etype, message=message, code=gstatus if isinstance(gstatus, str) else None)
    else:
        raw_type, code = err.get("type"), err.get("code")
        etype = openai_vocab.ERROR_IN.get(str(code), openai_vocab.ERROR_IN.get(str(raw_type), fallback))
        if status == 503 or raw_type == "overloaded_error":
            etype = "overloaded_error"
        elif status in (400, 401, 403, 404, 413, 429):
            etype = anthropic_vocab.STATUS_TYPE[status]
        info = ErrorInfo(
            status=status,
            type=etype,
            message=message,
            code=None if code is None else str(code),
            param=err.get("param"),
        )
    keep(info, wire, {}, (), raw=data)
    return info


def render_error(wire: Wire, info: ErrorInfo) -> tuple[int, dict[str, Any]]:
    """(status, body) of `info` in `wire`'s format; an error from the same wire is kept as is."""
    raw = hint(info, wire, "raw")
    if raw is not None:
        return info.status, raw
    if wire == "anthropic":
        status = (
            anthropic_vocab.TYPE_STATUS.get(info.type, info.status) if info.type == "overloaded_error" else info.status
        )
        return status, {"type": "error", "error": {"type": info.type, "message": info.message}}
    if wire == "gemini":
        status, gstatus = gemini_vocab.STATUS_OUT.get(info.type, (info.status, "UNKNOWN"))
        return status, {"error": {"code": status, "message": info.message, "status": gstatus}}
    status, etype, code = openai_vocab.ERROR_OUT.get(info.type, (info.status, "server_error", None))
    return status, {"error": {"message": info.message, "type": etype, "param": info.param, "code": code}}


def convert_error(
    status: int,
    body: bytes | str | Any,
    src: Wire,
    dst: Wire,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """An upstream error of `src` as the `dst` client expects it: (status, body, headers)."""
    info = parse_error(src, status, body)
    if src != dst:
        info.hints.pop(src, None)
    out_status, out_body = render_error(dst, info)
    return out_status, out_body, keep_headers(headers or {}, dst)


def keep_headers(headers: Mapping[str, str], dst: Wire) -> dict[str, str]:
    """The headers of an upstream error to pass on, request id spelled as `dst`'s SDK reads it."""
    out = {k.lower(): v for k, v in headers.items() if _KEEP.match(k)}
    rid = out.get("request-id") or out.get("x-request-id")
    if rid is not None:
        out["request-id" if dst == "anthropic" else "x-request-id"] = rid
    return out


def failure(wire: Wire | None, message: str, status: int = 500) -> tuple[int, dict[str, Any]]:
    """A clean error in the client's format for a request or response ccproxy could not
    convert: never the untransformed body (seeds: OpenAI-shape 500 for OpenAI clients)."""
    info = ErrorInfo(status=status, type=anthropic_vocab.STATUS_TYPE.get(status, "api_error"), message=message)
    out_status, body = render_error(wire or "openai", info)
    if status != 529:
        # ccproxy chose this status (502: no credential, 404: no route); keep it in every format.
        # 529 is Anthropic's own; other formats get their overloaded status from the table.
        out_status = status
        if wire == "gemini":
            body["error"]["code"] = status
    return out_status, body


# Faults ccproxy answers itself (the upstream never produced an answer). `kind` is stable: it is
# the OpenAI `code` and the `x-ccproxy-error` header; Anthropic clients read the type that the
# status maps to (api_error, timeout_error, overloaded_error, request_too_large, ...), Gemini
# clients the status (INTERNAL, DEADLINE_EXCEEDED, UNAVAILABLE, INVALID_ARGUMENT).
FAULT_KINDS: dict[str, int] = {
    "upstream_unreachable": 502,
    "upstream_failed": 502,
    "upstream_connect_timeout": 504,
    "upstream_timeout": 504,
    "shutting_down": 503,
    "request_too_large": 413,
    "invalid_request": 400,
    "internal_error": 500,
    "too_many_connections": 503,
}


def fault(wire: Wire | None, kind: str, message: str) -> tuple[int, dict[str, Any]]:
    """(status, body) of a fault of `kind` in the client's format, with `kind` as the OpenAI code."""
    status = FAULT_KINDS[kind]
    out_status, body = failure(wire, message, status)
    err = body.get("error")
    if (wire or "openai") in ("openai", "openai_responses") and isinstance(err, dict):
        err["code"] = kind
    return out_status, body
