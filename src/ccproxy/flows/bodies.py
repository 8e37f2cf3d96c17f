"""Decoding flow bodies from the ``/flows`` contract (utf8 text or base64)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any


def body_bytes(message: dict[str, Any] | None) -> bytes | None:
    """The raw body of a request/response dict, or None when the daemon sent none."""
    if not message:
        return None
    body = message.get("body")
    if body is None:
        return None
    if message.get("body_encoding") == "base64":
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as e:
            raise ValueError(f"body is marked base64 but does not decode: {e}") from e
    return str(body).encode("utf-8")


def body_text(message: dict[str, Any] | None) -> str | None:
    """The body as text when it is UTF-8, else None."""
    raw = body_bytes(message)
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def body_json(message: dict[str, Any] | None) -> Any:
    """The body parsed as JSON, or None when absent or not JSON."""
    text = body_text(message)
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def pretty_lines(message: dict[str, Any] | None) -> list[str]:
    """Body lines for diffing: JSON pretty-printed with sorted keys, text as is."""
    raw = body_bytes(message)
    if raw is None or raw == b"":
        return []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        digest = hashlib.sha256(raw).hexdigest()[:16]
        return [f"<{len(raw)} bytes of binary data, sha256 {digest}…>"]
    try:
        parsed = json.loads(text)
    except ValueError:
        return text.splitlines()
    return json.dumps(parsed, indent=2, sort_keys=True, ensure_ascii=False).splitlines()
