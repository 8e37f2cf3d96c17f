"""Official SDK clients streaming through the proxy, reduced to a comparable summary."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import anthropic
import openai
from google import genai
from google.genai import types as gtypes
from openai.lib.streaming.chat import ChatCompletionStreamState

from .oracles import Summary


@dataclass
class ClientRun:
    summary: Summary | None = None
    error: str | None = None  # a clean, typed stream error the SDK surfaced
    first_event_at: float | None = None  # monotonic time of the first event
    first_event_wall: float | None = None  # the same as time.time(), to compare across processes
    events: list[str] = field(default_factory=list)


async def stream_with_sdk(wire: str, url: str, headers: dict[str, str] | None = None) -> ClientRun:
    run = ClientRun()
    h = headers or {}
    try:
        if wire == "anthropic":
            await _anthropic(url, run, h)
        elif wire == "openai":
            await _openai_chat(url, run, h)
        elif wire == "openai_responses":
            await _openai_responses(url, run, h)
        else:
            await _gemini(url, run, h)
    except (anthropic.APIStatusError, openai.APIError, genai.errors.APIError) as e:
        if isinstance(e, (anthropic.APIConnectionError, openai.APIConnectionError)):
            raise
        run.error = str(e)
    return run


def _first(run: ClientRun) -> None:
    if run.first_event_at is None:
        run.first_event_at = time.monotonic()
        run.first_event_wall = time.time()


async def _anthropic(url: str, run: ClientRun, headers: dict[str, str]) -> None:
    async with anthropic.AsyncAnthropic(
        api_key="sk-ant-test", base_url=url, max_retries=0, default_headers=headers
    ) as client:
        await _anthropic_stream(client, run)


async def _anthropic_stream(client: anthropic.AsyncAnthropic, run: ClientRun) -> None:
    async with client.messages.stream(
        model="claude-test", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    ) as s:
        async for ev in s:
            run.events.append(ev.type)
            _first(run)
        m = await s.get_final_message()
    summ = Summary()
    for b in m.content:
        if b.type == "text":
            summ.text += b.text
        elif b.type == "thinking":
            summ.thinking += b.thinking
        elif b.type == "tool_use":
            summ.tool_calls.append((b.name, b.input))
    summ.stop = {"max_tokens": "max", "tool_use": "tool", "refusal": "refusal"}.get(m.stop_reason or "", "end")
    run.summary = summ


async def _openai_chat(url: str, run: ClientRun, headers: dict[str, str]) -> None:
    async with openai.AsyncOpenAI(
        api_key="sk-test", base_url=url + "/v1", max_retries=0, default_headers=headers
    ) as client:
        await _openai_chat_stream(client, run)


async def _openai_chat_stream(client: openai.AsyncOpenAI, run: ClientRun) -> None:
    stream = await client.chat.completions.create(
        model="gpt-test",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    state = ChatCompletionStreamState()
    async for chunk in stream:
        run.events.append("chunk")
        _first(run)
        state.handle_chunk(chunk)
    choice = state.current_completion_snapshot.choices[0]
    summ = Summary(text=choice.message.content or "")
    for tc in choice.message.tool_calls or ():
        summ.tool_calls.append((tc.function.name, json.loads(tc.function.arguments or "{}")))
    summ.stop = {"length": "max", "tool_calls": "tool", "content_filter": "refusal"}.get(choice.finish_reason, "end")
    run.summary = summ


async def _openai_responses(url: str, run: ClientRun, headers: dict[str, str]) -> None:
    async with openai.AsyncOpenAI(
        api_key="sk-test", base_url=url + "/v1", max_retries=0, default_headers=headers
    ) as client:
        await _openai_responses_stream(client, run)


async def _openai_responses_stream(client: openai.AsyncOpenAI, run: ClientRun) -> None:
    async with client.responses.stream(model="gpt-test", input="hi") as s:
        async for ev in s:
            run.events.append(ev.type)
            _first(run)
            if ev.type in ("error", "response.failed"):
                # the SDK hands stream errors to the caller as events
                run.error = getattr(ev, "message", None) or str(getattr(ev.response, "error", ""))
                return
        r = await s.get_final_response()
    summ = Summary()
    for item in r.output:
        if item.type == "message":
            summ.text += "".join(getattr(p, "text", "") for p in item.content)
        elif item.type == "function_call":
            summ.tool_calls.append((item.name, json.loads(item.arguments or "{}")))
    summ.stop = "tool" if summ.tool_calls else "end"
    run.summary = summ


async def _gemini(url: str, run: ClientRun, headers: dict[str, str]) -> None:
    client = genai.Client(api_key="test-key", http_options=gtypes.HttpOptions(base_url=url, headers=headers))
    try:
        await _gemini_stream(client, run)
    finally:
        await client.aio.aclose()


async def _gemini_stream(client: genai.Client, run: ClientRun) -> None:
    summ = Summary()
    finish: Any = None
    async for chunk in await client.aio.models.generate_content_stream(model="gemini-test", contents="hi"):
        run.events.append("chunk")
        _first(run)
        for cand in chunk.candidates or ():
            for part in (cand.content.parts if cand.content else None) or ():
                if part.function_call is not None:
                    summ.tool_calls.append((part.function_call.name, part.function_call.args or {}))
                elif part.text and not part.thought:
                    summ.text += part.text
            finish = cand.finish_reason or finish
    if finish is None:
        raise AssertionError("gemini stream ended without finishReason")
    summ.stop = "tool" if summ.tool_calls else ("max" if finish.name == "MAX_TOKENS" else "end")
    run.summary = summ
