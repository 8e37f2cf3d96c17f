"""The client side of a conformance cell: the official SDK of the client's format sends a native
request body through the daemon and returns what the SDK made of the answer — its typed model
(plain) or its own stream accumulator (streaming) — reduced to a comparable `Seen`."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import anthropic
import openai
from google import genai
from google.genai import types as gt
from openai.lib.streaming.chat import ChatCompletionStreamState


class StreamFailed(Exception):
    """A Responses stream that ended with an `error` / `response.failed` event: the SDK yields
    those as events, and its accumulator then has no final response."""


API_ERRORS = (anthropic.APIError, openai.APIError, genai.errors.APIError, StreamFailed)


@dataclass
class Seen:
    text: str = ""
    thinking: str = ""
    calls: list[tuple[str, Any]] = field(default_factory=list)
    stop: str = ""
    usage: dict[str, int] = field(default_factory=dict)  # input (all), cached, output (all), reasoning
    citations: list[str] = field(default_factory=list)  # cited URLs
    raw: dict[str, Any] = field(default_factory=dict)  # the typed model, dumped (for turn 2)


def _split(fn: Any, body: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for an SDK method: keys its signature lacks go in extra_body."""
    params = inspect.signature(fn).parameters
    known = {k: v for k, v in body.items() if k in params}
    extra = {k: v for k, v in body.items() if k not in params}
    return {**known, **({"extra_body": extra} if extra else {})}


# --- Anthropic ---------------------------------------------------------------------------------


def _anthropic_seen(msg: Any) -> Seen:
    s = Seen(stop=msg.stop_reason or "", raw=msg.model_dump(exclude_none=True))
    for b in msg.content:
        if b.type == "text":
            s.text += b.text
            s.citations += [c.url for c in (b.citations or []) if getattr(c, "url", None)]
        elif b.type == "thinking":
            s.thinking += b.thinking
        elif b.type == "tool_use":
            s.calls.append((b.name, b.input))
    u = msg.usage
    cached = u.cache_read_input_tokens or 0
    details = (u.model_extra or {}).get("output_tokens_details") or {}
    s.usage = {
        "input": u.input_tokens + cached + (u.cache_creation_input_tokens or 0),
        "cached": cached,
        "output": u.output_tokens,
        "reasoning": int(details.get("thinking_tokens") or 0) if isinstance(details, dict) else 0,
    }
    return s


def anthropic_call(url: str, body: dict[str, Any], stream: bool) -> Seen:
    c = anthropic.Anthropic(base_url=url, api_key="sk-ant-client", max_retries=0)
    if stream:
        with c.messages.stream(**_split(c.messages.create, body)) as st:
            return _anthropic_seen(st.get_final_message())
    return _anthropic_seen(c.messages.create(**_split(c.messages.create, body)))


# --- OpenAI Chat -------------------------------------------------------------------------------


def _chat_seen(done: Any, usage: Any) -> Seen:
    choice = done.choices[0]
    m = choice.message
    extra = m.model_extra or {}
    s = Seen(text=m.content or "", stop=choice.finish_reason or "", raw=done.model_dump(exclude_none=True))
    s.thinking = extra.get("reasoning_content") or extra.get("reasoning") or ""
    s.calls = [(t.function.name, _json(t.function.arguments)) for t in m.tool_calls or ()]
    s.citations = [a.url_citation.url for a in getattr(m, "annotations", None) or () if a.type == "url_citation"]
    if usage is not None:
        s.usage = {
            "input": usage.prompt_tokens,
            "cached": (usage.prompt_tokens_details.cached_tokens or 0) if usage.prompt_tokens_details else 0,
            "output": usage.completion_tokens,
            "reasoning": (usage.completion_tokens_details.reasoning_tokens or 0)
            if usage.completion_tokens_details
            else 0,
        }
    return s


def chat_call(url: str, body: dict[str, Any], stream: bool) -> Seen:
    c = openai.OpenAI(base_url=url + "/v1", api_key="sk-client", max_retries=0)
    if not stream:
        done = c.chat.completions.create(**_split(c.chat.completions.create, body))
        return _chat_seen(done, done.usage)
    state = ChatCompletionStreamState()
    usage = None
    body = {**body, "stream": True, "stream_options": {"include_usage": True}}
    for chunk in c.chat.completions.create(**_split(c.chat.completions.create, body)):
        usage = chunk.usage or usage
        state.handle_chunk(chunk)
    return _chat_seen(state.current_completion_snapshot, usage)


# --- OpenAI Responses --------------------------------------------------------------------------


def _responses_seen(r: Any) -> Seen:
    s = Seen(stop=r.status or "", raw=r.model_dump(exclude_none=True))
    for item in r.output:
        if item.type == "message":
            for part in item.content:
                if part.type == "output_text":
                    s.text += part.text
                    s.citations += [a.url for a in part.annotations or () if a.type == "url_citation"]
        elif item.type == "reasoning":
            s.thinking += "".join(x.text for x in item.summary or ())
            s.thinking += "".join(x.text for x in getattr(item, "content", None) or ())
        elif item.type == "function_call":
            s.calls.append((item.name, _json(item.arguments)))
    if r.usage is not None:
        u = r.usage
        s.usage = {
            "input": u.input_tokens,
            "cached": u.input_tokens_details.cached_tokens if u.input_tokens_details else 0,
            "output": u.output_tokens,
            "reasoning": u.output_tokens_details.reasoning_tokens if u.output_tokens_details else 0,
        }
    if s.calls and s.stop == "completed":
        s.stop = "tool_calls"
    return s


def responses_call(url: str, body: dict[str, Any], stream: bool) -> Seen:
    c = openai.OpenAI(base_url=url + "/v1", api_key="sk-client", max_retries=0)
    if stream:
        with c.responses.stream(**_split(c.responses.create, body)) as st:
            for ev in st:
                if ev.type in ("error", "response.failed"):
                    raise StreamFailed(str(getattr(ev, "message", None) or ev.model_dump_json()))
            return _responses_seen(st.get_final_response())
    return _responses_seen(c.responses.create(**_split(c.responses.create, body)))


# --- Gemini ------------------------------------------------------------------------------------


def _gemini_args(body: dict[str, Any]) -> dict[str, Any]:
    """The REST body as google-genai's typed arguments (its models take the REST camelCase keys)."""
    config: dict[str, Any] = dict(body.get("generationConfig") or {})
    if "systemInstruction" in body:
        config["systemInstruction"] = body["systemInstruction"]
    if "tools" in body:
        config["tools"] = body["tools"]
    if "toolConfig" in body:
        config["toolConfig"] = body["toolConfig"]
    contents = [gt.Content.model_validate(c) for c in body["contents"]]
    return {"contents": contents, "config": gt.GenerateContentConfig.model_validate(config)}


def _gemini_seen(chunks: list[Any]) -> Seen:
    s = Seen()
    parts: list[dict[str, Any]] = []
    for ch in chunks:
        for cand in ch.candidates or ():
            s.stop = cand.finish_reason.value if cand.finish_reason else s.stop
            gm = cand.grounding_metadata
            if gm is not None:
                s.citations += [g.web.uri for g in gm.grounding_chunks or () if g.web and g.web.uri]
            for p in (cand.content.parts if cand.content else None) or ():
                parts.append(p.model_dump(exclude_none=True, by_alias=True))
                if p.function_call is not None:
                    s.calls.append((p.function_call.name, p.function_call.args))
                elif p.text and p.thought:
                    s.thinking += p.text
                elif p.text:
                    s.text += p.text
        if ch.usage_metadata is not None:
            u = ch.usage_metadata
            s.usage = {
                "input": u.prompt_token_count or 0,
                "cached": u.cached_content_token_count or 0,
                "output": (u.candidates_token_count or 0) + (u.thoughts_token_count or 0),
                "reasoning": u.thoughts_token_count or 0,
            }
    s.raw = {"candidates": [{"content": {"role": "model", "parts": parts}}]}
    return s


def gemini_call(url: str, body: dict[str, Any], stream: bool, model: str) -> Seen:
    c = genai.Client(api_key="client-key", http_options=gt.HttpOptions(base_url=url, retry_options=None))
    if stream:
        return _gemini_seen(list(c.models.generate_content_stream(model=model, **_gemini_args(body))))
    return _gemini_seen([c.models.generate_content(model=model, **_gemini_args(body))])


def call(wire: str, url: str, body: dict[str, Any], stream: bool, model: str) -> Seen:
    body = {**body, "model": model} if wire != "gemini" else body
    if wire == "anthropic":
        return anthropic_call(url, body, stream)
    if wire == "openai":
        return chat_call(url, body, stream)
    if wire == "openai_responses":
        return responses_call(url, body, stream)
    return gemini_call(url, body, stream, model)


def count(wire: str, url: str, body: dict[str, Any], model: str) -> int | None:
    """The client's own count_tokens call, or None where its format has none."""
    if wire == "anthropic":
        c = anthropic.Anthropic(base_url=url, api_key="sk-ant-client", max_retries=0)
        keep = {k: body[k] for k in ("messages", "system", "tools") if k in body}
        return c.messages.count_tokens(model=model, **keep).input_tokens
    if wire == "gemini":
        g = genai.Client(api_key="client-key", http_options=gt.HttpOptions(base_url=url))
        return g.models.count_tokens(model=model, contents=_gemini_args(body)["contents"]).total_tokens
    return None


def _json(text: str | None) -> Any:
    import json

    try:
        return json.loads(text or "{}")
    except ValueError:
        return text
