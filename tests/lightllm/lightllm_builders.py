"""Native request/response bodies of each wire format, written by hand from the providers'
API references (not produced by lightllm), for table and property tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
OUT_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}


@dataclass
class Call:
    id: str
    name: str
    args: dict[str, Any]


@dataclass
class Convo:
    system: str | None = "Be brief."
    user: str = "Weather in Paris and Rome?"
    image: bool = False
    assistant_text: str | None = None
    calls: list[Call] = field(default_factory=list)
    results: list[str] = field(default_factory=list)  # one per call, same order
    tools: bool = True
    max_tokens: int = 512
    temperature: float | None = 0.5
    stop: list[str] | None = None
    json_schema: bool = False
    reasoning: bool = False


WEATHER = Convo(
    image=True,
    assistant_text="Checking.",
    calls=[Call("call_1", "get_weather", {"city": "Paris"}), Call("call_2", "get_weather", {"city": "Rome"})],
    results=["18C", "21C"],
    stop=["END"],
)


def request(wire: str, c: Convo) -> dict[str, Any]:
    return {"anthropic": _anthropic, "openai": _chat, "openai_responses": _responses, "gemini": _gemini}[wire](c)


def _anthropic(c: Convo) -> dict[str, Any]:
    user: list[dict[str, Any]] = [{"type": "text", "text": c.user}]
    if c.image:
        user.append({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}})
    msgs: list[dict[str, Any]] = [{"role": "user", "content": user}]
    if c.calls or c.assistant_text:
        blocks: list[dict[str, Any]] = []
        if c.assistant_text:
            blocks.append({"type": "text", "text": c.assistant_text})
        blocks += [{"type": "tool_use", "id": k.id, "name": k.name, "input": k.args} for k in c.calls]
        msgs.append({"role": "assistant", "content": blocks})
    if c.results:
        msgs.append(
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": k.id, "content": r}
                    for k, r in zip(c.calls, c.results, strict=True)
                ],
            }
        )
    body: dict[str, Any] = {"model": "claude-sonnet-4-5", "max_tokens": c.max_tokens, "messages": msgs}
    if c.system:
        body["system"] = c.system
    if c.tools:
        body["tools"] = [{"name": "get_weather", "description": "Weather for a city", "input_schema": SCHEMA}]
        body["tool_choice"] = {"type": "auto"}
    if c.temperature is not None:
        body["temperature"] = c.temperature
    if c.stop:
        body["stop_sequences"] = c.stop
    if c.json_schema:
        body["output_config"] = {"format": {"type": "json_schema", "schema": OUT_SCHEMA}}
    if c.reasoning:
        body["thinking"] = {"type": "enabled", "budget_tokens": 4096}
        body.pop("temperature", None)
    return body


def _chat(c: Convo) -> dict[str, Any]:
    msgs: list[dict[str, Any]] = []
    if c.system:
        msgs.append({"role": "system", "content": c.system})
    user: list[dict[str, Any]] = [{"type": "text", "text": c.user}]
    if c.image:
        user.append({"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}})
    msgs.append({"role": "user", "content": user})
    if c.calls or c.assistant_text:
        a: dict[str, Any] = {"role": "assistant", "content": c.assistant_text}
        if c.calls:
            a["tool_calls"] = [
                {
                    "id": k.id,
                    "type": "function",
                    "function": {"name": k.name, "arguments": json.dumps(k.args)},
                }
                for k in c.calls
            ]
        msgs.append(a)
    for k, r in zip(c.calls, c.results, strict=False):
        msgs.append({"role": "tool", "tool_call_id": k.id, "content": r})
    body: dict[str, Any] = {"model": "gpt-4o", "messages": msgs, "max_completion_tokens": c.max_tokens}
    if c.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "parameters": SCHEMA,
                },
            }
        ]
        body["tool_choice"] = "auto"
    if c.temperature is not None:
        body["temperature"] = c.temperature
    if c.stop:
        body["stop"] = c.stop
    if c.json_schema:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": OUT_SCHEMA, "strict": True},
        }
    if c.reasoning:
        body["reasoning_effort"] = "medium"
    return body


def _responses(c: Convo) -> dict[str, Any]:
    user: list[dict[str, Any]] = [{"type": "input_text", "text": c.user}]
    if c.image:
        user.append({"type": "input_image", "image_url": f"data:image/png;base64,{PNG}", "detail": "auto"})
    items: list[dict[str, Any]] = [{"role": "user", "content": user}]
    if c.assistant_text:
        items.append({"type": "message", "role": "assistant", "content": c.assistant_text})
    items += [
        {"type": "function_call", "call_id": k.id, "name": k.name, "arguments": json.dumps(k.args)} for k in c.calls
    ]
    items += [
        {"type": "function_call_output", "call_id": k.id, "output": r} for k, r in zip(c.calls, c.results, strict=False)
    ]
    body: dict[str, Any] = {"model": "gpt-5", "input": items, "max_output_tokens": c.max_tokens}
    if c.system:
        body["instructions"] = c.system
    if c.tools:
        body["tools"] = [
            {
                "type": "function",
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": SCHEMA,
                "strict": False,
            }
        ]
        body["tool_choice"] = "auto"
    if c.temperature is not None:
        body["temperature"] = c.temperature
    if c.json_schema:
        body["text"] = {"format": {"type": "json_schema", "name": "answer", "schema": OUT_SCHEMA, "strict": True}}
    if c.reasoning:
        body["reasoning"] = {"effort": "medium", "summary": "auto"}
    return body


def _gemini(c: Convo) -> dict[str, Any]:
    user: list[dict[str, Any]] = [{"text": c.user}]
    if c.image:
        user.append({"inlineData": {"mimeType": "image/png", "data": PNG}})
    contents: list[dict[str, Any]] = [{"role": "user", "parts": user}]
    if c.calls or c.assistant_text:
        parts: list[dict[str, Any]] = []
        if c.assistant_text:
            parts.append({"text": c.assistant_text})
        parts += [{"functionCall": {"id": k.id, "name": k.name, "args": k.args}} for k in c.calls]
        contents.append({"role": "model", "parts": parts})
    if c.results:
        contents.append(
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"id": k.id, "name": k.name, "response": {"result": r}}}
                    for k, r in zip(c.calls, c.results, strict=True)
                ],
            }
        )
    body: dict[str, Any] = {"contents": contents}
    if c.system:
        body["systemInstruction"] = {"parts": [{"text": c.system}]}
    if c.tools:
        body["tools"] = [
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "description": "Weather for a city",
                        "parametersJsonSchema": SCHEMA,
                    }
                ]
            }
        ]
        body["toolConfig"] = {"functionCallingConfig": {"mode": "AUTO"}}
    gen: dict[str, Any] = {"maxOutputTokens": c.max_tokens}
    if c.temperature is not None:
        gen["temperature"] = c.temperature
    if c.stop:
        gen["stopSequences"] = c.stop
    if c.json_schema:
        gen |= {"responseMimeType": "application/json", "responseJsonSchema": OUT_SCHEMA}
    if c.reasoning:
        gen["thinkingConfig"] = {"thinkingBudget": 4096, "includeThoughts": True}
    body["generationConfig"] = gen
    return body


# ---- responses -----------------------------------------------------------------------------


@dataclass
class Answer:
    text: str | None = "Checking."
    calls: list[Call] = field(default_factory=list)
    stop: str = "end_turn"  # end_turn | max_tokens | tool_use | refusal
    thinking: str | None = None
    signature: str | None = None  # the provider's opaque reasoning state
    input_tokens: int = 100
    cached_tokens: int = 20
    output_tokens: int = 30
    reasoning_tokens: int = 10


def response(wire: str, a: Answer) -> dict[str, Any]:
    return {
        "anthropic": _r_anthropic,
        "openai": _r_chat,
        "openai_responses": _r_responses,
        "gemini": _r_gemini,
    }[wire](a)


def _r_anthropic(a: Answer) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if a.thinking is not None:
        content.append({"type": "thinking", "thinking": a.thinking, "signature": a.signature or "sig"})
    if a.text is not None:
        content.append({"type": "text", "text": a.text})
    content += [{"type": "tool_use", "id": k.id, "name": k.name, "input": k.args} for k in a.calls]
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": content,
        "stop_reason": a.stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": a.input_tokens - a.cached_tokens,
            "cache_read_input_tokens": a.cached_tokens,
            "cache_creation_input_tokens": 0,
            "output_tokens": a.output_tokens,
            "output_tokens_details": {"thinking_tokens": a.reasoning_tokens},
        },
    }


_CHAT_FINISH = {
    "end_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def _r_chat(a: Answer) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": a.text, "refusal": None}
    if a.thinking is not None:
        msg["reasoning_content"] = a.thinking
    if a.calls:
        msg["tool_calls"] = [
            {"id": k.id, "type": "function", "function": {"name": k.name, "arguments": json.dumps(k.args)}}
            for k in a.calls
        ]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o",
        "choices": [{"index": 0, "message": msg, "finish_reason": _CHAT_FINISH[a.stop], "logprobs": None}],
        "usage": {
            "prompt_tokens": a.input_tokens,
            "completion_tokens": a.output_tokens,
            "total_tokens": a.input_tokens + a.output_tokens,
            "prompt_tokens_details": {"cached_tokens": a.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": a.reasoning_tokens},
        },
    }


def _r_responses(a: Answer) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    if a.thinking is not None:
        item: dict[str, Any] = {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [{"type": "summary_text", "text": a.thinking}],
        }
        if a.signature:
            item["encrypted_content"] = a.signature
        out.append(item)
    if a.text is not None:
        out.append(
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": a.text, "annotations": []}],
            }
        )
    out += [
        {
            "type": "function_call",
            "id": f"fc_{k.id}",
            "call_id": k.id,
            "name": k.name,
            "arguments": json.dumps(k.args),
            "status": "completed",
        }
        for k in a.calls
    ]
    incomplete = a.stop in ("max_tokens", "refusal")
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1700000000,
        "model": "gpt-5",
        "status": "incomplete" if incomplete else "completed",
        "incomplete_details": {"reason": "max_output_tokens" if a.stop == "max_tokens" else "content_filter"}
        if incomplete
        else None,
        "output": out,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": a.input_tokens,
            "input_tokens_details": {"cached_tokens": a.cached_tokens, "cache_write_tokens": 0},
            "output_tokens": a.output_tokens,
            "output_tokens_details": {"reasoning_tokens": a.reasoning_tokens},
            "total_tokens": a.input_tokens + a.output_tokens,
        },
    }


_GEMINI_FINISH = {"end_turn": "STOP", "tool_use": "STOP", "max_tokens": "MAX_TOKENS", "refusal": "SAFETY"}


def _r_gemini(a: Answer) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if a.thinking is not None:
        parts.append({"text": a.thinking, "thought": True})
    if a.text is not None:
        parts.append({"text": a.text})
    for i, k in enumerate(a.calls):
        part: dict[str, Any] = {"functionCall": {"name": k.name, "args": k.args}}
        if i == 0 and a.signature:
            part["thoughtSignature"] = a.signature
        parts.append(part)
    return {
        "candidates": [
            {"content": {"role": "model", "parts": parts}, "finishReason": _GEMINI_FINISH[a.stop], "index": 0}
        ],
        "usageMetadata": {
            "promptTokenCount": a.input_tokens,
            "cachedContentTokenCount": a.cached_tokens,
            "candidatesTokenCount": a.output_tokens - a.reasoning_tokens,
            "thoughtsTokenCount": a.reasoning_tokens,
            "totalTokenCount": a.input_tokens + a.output_tokens,
        },
        "modelVersion": "gemini-2.5-pro",
        "responseId": "r1",
    }


# ---- what a client sends back on the next turn ----------------------------------------------


def echo(wire: str, turn1: dict[str, Any], resp: dict[str, Any], results: list[str]) -> dict[str, Any]:
    """Turn 2 as a typical client builds it: turn 1's request + the assistant output as the
    SDK returned it + one tool result per tool call."""
    body = json.loads(json.dumps(turn1))
    if wire == "anthropic":
        ids = [b["id"] for b in resp["content"] if b["type"] == "tool_use"]
        body["messages"] += [
            {"role": "assistant", "content": resp["content"]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": i, "content": r} for i, r in zip(ids, results, strict=True)
                ],
            },
        ]
    elif wire == "openai":
        msg = resp["choices"][0]["message"]
        # Keep only what every Chat client keeps: no vendor fields such as reasoning_content.
        kept = {k: msg[k] for k in ("role", "content", "tool_calls") if k in msg}
        body["messages"].append(kept)
        body["messages"] += [
            {"role": "tool", "tool_call_id": c["id"], "content": r}
            for c, r in zip(msg.get("tool_calls") or [], results, strict=True)
        ]
    elif wire == "openai_responses":
        calls = [it for it in resp["output"] if it["type"] == "function_call"]
        body["input"] += resp["output"]
        body["input"] += [
            {"type": "function_call_output", "call_id": c["call_id"], "output": r}
            for c, r in zip(calls, results, strict=True)
        ]
    elif wire == "gemini":
        content = resp["candidates"][0]["content"]
        calls = [p["functionCall"] for p in content["parts"] if "functionCall" in p]
        body["contents"] += [
            content,
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {**({"id": c["id"]} if "id" in c else {}), "name": c["name"],
                                          "response": {"result": r}}}
                    for c, r in zip(calls, results, strict=True)
                ],
            },
        ]  # fmt: skip
    return body
