"""Retry vocabulary: how long an upstream asks us to wait, and how a flow names its model."""

from __future__ import annotations

import email.utils
import json
import re
import time
from typing import Any

from mitmproxy import http

from ccproxy.lightllm import code_assist as ca
from ccproxy.lightllm.gemini import parse_path

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


def _seconds(value: Any) -> float | None:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and (m := _DURATION.match(value)):
        return float(m.group(1))
    if isinstance(value, dict):  # google.protobuf.Duration as an object
        return float(value.get("seconds", 0)) + float(value.get("nanos", 0)) / 1e9
    return None


def retry_info_delay(body: Any) -> float | None:
    """google.rpc.RetryInfo.retryDelay from a Google error body ({"error": {"details": [...]}})."""
    if isinstance(body, list) and body:
        body = body[0]
    error = body.get("error") if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    for d in details if isinstance(details, list) else []:
        if isinstance(d, dict) and d.get("@type") == RETRY_INFO:
            return _seconds(d.get("retryDelay"))
    return None


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """The retry-after header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(when - (time.time() if now is None else now), 0.0)


def requested_delay(resp: http.Response) -> float | None:
    """What the upstream asked for: RetryInfo in the body wins over retry-after."""
    try:
        body = json.loads(resp.get_content(strict=False) or b"")
    except ValueError:
        body = None
    found = retry_info_delay(body)
    return found if found is not None else retry_after(resp.headers.get("retry-after"))


def model_of_request(req: http.Request) -> str | None:
    parsed = parse_path(req.path)
    if parsed is not None:
        return parsed[1]
    try:
        body = json.loads(req.get_content(strict=False) or b"")
    except ValueError:
        return None
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else None


def with_model(req: http.Request, model: str) -> http.Request:
    """A copy of the request asking for another model (envelope, Gemini path or body `model`)."""
    out = req.copy()
    parsed = parse_path(out.path)
    if parsed is not None and not ca.is_code_assist_path(out.path):
        out.path = out.path.replace(f"/models/{parsed[1]}:", f"/models/{model}:", 1)
        return out
    try:
        body = json.loads(out.get_content(strict=False) or b"")
    except ValueError:
        return out
    if isinstance(body, dict):
        body["model"] = model
        out.content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return out
