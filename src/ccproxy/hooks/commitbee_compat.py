"""commitbee_compat: last-mile fixes for CommitBee (the `commitbee` Rust crate, a commit-message
generator) when ccproxy sends its requests to another provider or model.

What CommitBee sends (from its source, crate versions 0.3-0.6):
- OpenAI mode: POST {openai_base_url}/chat/completions, Bearer key, exactly
  `{model, messages: [system, user], temperature, max_tokens, stream: true}`.
- Anthropic mode: POST {anthropic_base_url}/messages, x-api-key, anthropic-version 2023-06-01,
  exactly `{model, system: "<string>", messages: [user], temperature, max_tokens, stream: true}`.
- The system prompt starts "You generate Conventional Commit messages"; no user-agent of its own.
- `max_tokens` is its `num_predict`, 256 by default, and it reads only answer text: OpenAI
  `choices[].delta.content` (a chunk without `choices` or `delta` is skipped, the first
  `finish_reason` ends it), Anthropic `content_block_delta.delta.text` until `message_stop`;
  only lines starting `data: ` (with the space) count.

What breaks through ccproxy, and what this hook does about it (outbound, so on the body as it
goes upstream, after any conversion):
- A reasoning model behind the route (OpenAI o-series / gpt-5, DeepSeek reasoner, Gemini 2.5+
  thinking) spends CommitBee's 256 tokens thinking and answers nothing: the budget is raised
  to `min_tokens` (default 4096) and, where the API allows it, thinking is turned off
  (Gemini flash models: thinkingBudget 0) or kept low (OpenAI: reasoning_effort low).
- OpenAI reasoning models reject `max_tokens` and a non-default `temperature`: renamed to
  `max_completion_tokens`, and the temperature dropped.
- The streams ccproxy renders already meet CommitBee's parser (tests/gemini/test_commitbee.py
  reads them with a CommitBee-shaped client), so answers pass unchanged.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ccproxy.flows import meta
from ccproxy.pipeline import Context, hook

MARKER = "You generate Conventional Commit messages"
_OPENAI_KEYS = frozenset({"model", "messages", "temperature", "max_tokens", "stream"})
_ANTHROPIC_KEYS = _OPENAI_KEYS | {"system"}
_OPENAI_REASONING = re.compile(r"^(o\d|gpt-5)", re.IGNORECASE)
_OTHER_REASONING = re.compile(r"(reasoner|deepseek-r1|-thinking|qwq)", re.IGNORECASE)
_GEMINI_THINKING = re.compile(r"gemini-(2\.5|[3-9])", re.IGNORECASE)


def _system_text(body: dict[str, Any]) -> str:
    if isinstance(body.get("system"), str):
        return str(body["system"])
    msgs = body.get("messages") or []
    first = msgs[0] if msgs and isinstance(msgs[0], dict) else {}
    return first.get("content", "") if first.get("role") == "system" and isinstance(first.get("content"), str) else ""


def is_commitbee(body: Any) -> bool:
    """CommitBee's request exactly: its key set, streaming, and its system prompt."""
    if not isinstance(body, dict) or body.get("stream") is not True:
        return False
    keys = frozenset(body)
    return keys in (_OPENAI_KEYS, _ANTHROPIC_KEYS) and _system_text(body).startswith(MARKER)


def _client_body(ctx: Context) -> Any:
    snap = meta.client_request(ctx.flow)
    if snap is None:
        return ctx.body
    try:
        return json.loads(snap.content or b"")
    except ValueError:
        return None


def _commitbee_flow(ctx: Context) -> bool:
    return ctx.request.method == "POST" and is_commitbee(_client_body(ctx))


def fix_openai(body: dict[str, Any], min_tokens: int) -> list[str]:
    model = str(body.get("model", ""))
    done: list[str] = []
    if _OPENAI_REASONING.match(model):
        budget = max(int(body.pop("max_tokens", 0) or 0), int(body.get("max_completion_tokens", 0) or 0), min_tokens)
        body["max_completion_tokens"] = budget
        if body.pop("temperature", None) is not None:
            done.append("temperature dropped")
        body.setdefault("reasoning_effort", "low")
        done.append(f"max_tokens -> max_completion_tokens {budget}")
    elif _OTHER_REASONING.search(model) and int(body.get("max_tokens", 0) or 0) < min_tokens:
        body["max_tokens"] = min_tokens
        done.append(f"max_tokens raised to {min_tokens}")
    return done


def fix_gemini(body: dict[str, Any], model: str, min_tokens: int) -> list[str]:
    # Code Assist nests the generateContent request in the envelope
    inner = body["request"] if isinstance(body.get("request"), dict) else body
    model = str(body.get("model") or model)
    if not _GEMINI_THINKING.search(model):
        return []
    gc = inner.setdefault("generationConfig", {})
    done: list[str] = []
    if int(gc.get("maxOutputTokens", 0) or 0) < min_tokens:
        gc["maxOutputTokens"] = min_tokens
        done.append(f"maxOutputTokens raised to {min_tokens}")
    thinking = gc.setdefault("thinkingConfig", {})
    thinking["includeThoughts"] = False
    if "flash" in model.lower() and "thinkingBudget" not in thinking:
        thinking["thinkingBudget"] = 0  # flash models may think not at all; pro ones must think a little
        done.append("thinking off")
    return done


@hook(
    reads=["request.body", "request.path", "metadata.upstream_wire"],
    writes=["request.body", "metadata.commitbee"],
    guard=_commitbee_flow,
)
def commitbee_compat(ctx: Context, min_tokens: int = 4096) -> None:
    """Last-mile compatibility shim for commitbee (token budget and params for reasoning models)."""
    body = ctx.body
    if not isinstance(body, dict):
        return
    wire = ctx.get("metadata.upstream_wire") or ctx.get("metadata.client_wire")
    if wire == "gemini":
        model_m = re.search(r"/models/([^/:?]+)", ctx.request.path)
        done = fix_gemini(body, model_m.group(1) if model_m else "", min_tokens)
    elif wire == "openai":
        done = fix_openai(body, min_tokens)
    elif wire == "anthropic":
        done = []  # Claude does not think unless asked; CommitBee never asks
    else:
        done = []
    ctx.set("metadata.commitbee", {"detected": True, "changes": done})
    if done:
        ctx.body = body
