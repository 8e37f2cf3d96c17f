"""One non-streamed call through each official SDK, reduced to the error it raised."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx
import openai
from google import genai
from google.genai import types as gtypes

# The SDKs' own timeout: a ccproxy answer must arrive well before it (the default is 600 s).
CLIENT_TIMEOUT = 60.0


@dataclass
class SdkError:
    exception: str  # the SDK's exception class
    status: int
    body: Any
    headers: httpx.Headers | dict[str, str]
    elapsed: float

    @property
    def text(self) -> str:
        return str(self.body)


def call(wire: str, url: str, model: str, headers: dict[str, str]) -> SdkError:
    t0 = time.monotonic()
    try:
        _call(wire, url, model, headers)
    except (anthropic.APIStatusError, openai.APIStatusError) as e:
        return SdkError(type(e).__name__, e.status_code, e.body, e.response.headers, time.monotonic() - t0)
    except genai.errors.APIError as e:
        resp = e.response
        hdrs = getattr(resp, "headers", {}) or {}
        return SdkError(
            type(e).__name__, e.code, {"status": e.status, "message": e.message}, hdrs, time.monotonic() - t0
        )
    raise AssertionError(f"{wire}: the call succeeded")


def _call(wire: str, url: str, model: str, headers: dict[str, str]) -> None:
    if wire == "anthropic":
        with anthropic.Anthropic(
            api_key="sk-ant-test", base_url=url, max_retries=0, timeout=CLIENT_TIMEOUT, default_headers=headers
        ) as a:
            a.messages.create(model=model, max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    elif wire in ("openai", "openai_responses"):
        with openai.OpenAI(
            api_key="sk-test", base_url=url + "/v1", max_retries=0, timeout=CLIENT_TIMEOUT, default_headers=headers
        ) as o:
            if wire == "openai":
                o.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
            else:
                o.responses.create(model=model, input="hi")
    else:
        client = genai.Client(
            api_key="gk-test",
            http_options=gtypes.HttpOptions(base_url=url, headers=headers, timeout=int(CLIENT_TIMEOUT * 1000)),
        )
        client.models.generate_content(model=model, contents="hi")


def error_fields(wire: str, err: SdkError) -> tuple[str | None, str]:
    """(stable type/code/status, message) as each SDK's user reads them."""
    b = err.body
    if wire == "anthropic":
        return b["error"]["type"], b["error"]["message"]
    if wire in ("openai", "openai_responses"):
        # the OpenAI SDKs hand over the `error` object
        inner = b.get("error", b) if isinstance(b, dict) else {}
        return inner.get("code"), inner.get("message", "")
    return b["status"], b["message"]
