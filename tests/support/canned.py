"""Canned provider answers in the four wire formats, JSON and SSE, as the real APIs send them."""

from __future__ import annotations

import json
from typing import Any

TEXT = "Hello from the fake provider."


def sse(event: str | None, data: Any) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def anthropic_message(model: str = "claude-test", text: str = TEXT) -> dict[str, Any]:
    return {
        "id": "msg_fake01",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 12,
            "output_tokens": 7,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def anthropic_events(model: str = "claude-test", text: str = TEXT) -> list[bytes]:
    words = text.split(" ")
    chunks = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
    msg = anthropic_message(model, "")
    msg["content"] = []
    msg["stop_reason"] = None
    msg["usage"]["output_tokens"] = 1
    events = [
        sse("message_start", {"type": "message_start", "message": msg}),
        sse(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        sse("ping", {"type": "ping"}),
    ]
    for c in chunks:
        events.append(
            sse(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": c}},
            )
        )
    events += [
        sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 7},
            },
        ),
        sse("message_stop", {"type": "message_stop"}),
    ]
    return events


def openai_chat(model: str = "gpt-test", text: str = TEXT) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake01",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
    }


def openai_chat_events(model: str = "gpt-test", text: str = TEXT) -> list[bytes]:
    base = {"id": "chatcmpl-fake01", "object": "chat.completion.chunk", "created": 1700000000, "model": model}
    events = [
        sse(
            None,
            {
                **base,
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
            },
        )
    ]
    for word in text.split(" "):
        events.append(
            sse(
                None,
                {**base, "choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]},
            )
        )
    events.append(sse(None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    events.append(sse(None, "[DONE]"))
    return events


def openai_response(model: str = "gpt-test", text: str = TEXT) -> dict[str, Any]:
    return {
        "id": "resp_fake01",
        "object": "response",
        "created_at": 1700000000,
        "status": "completed",
        "model": model,
        "output": [
            {
                "type": "message",
                "id": "msg_fake01",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 12,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 7,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 19,
        },
    }


def openai_response_events(model: str = "gpt-test", text: str = TEXT) -> list[bytes]:
    done = openai_response(model, text)
    created = {**done, "status": "in_progress", "output": [], "usage": None}
    item = done["output"][0]
    seq = iter(range(1000))
    events = [
        sse(
            "response.created",
            {"type": "response.created", "sequence_number": next(seq), "response": created},
        ),
        sse(
            "response.in_progress",
            {"type": "response.in_progress", "sequence_number": next(seq), "response": created},
        ),
        sse(
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "sequence_number": next(seq),
                "output_index": 0,
                "item": {**item, "status": "in_progress", "content": []},
            },
        ),
        sse(
            "response.content_part.added",
            {
                "type": "response.content_part.added",
                "sequence_number": next(seq),
                "item_id": item["id"],
                "output_index": 0,
                "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": []},
            },
        ),
    ]
    for word in text.split(" "):
        events.append(
            sse(
                "response.output_text.delta",
                {
                    "type": "response.output_text.delta",
                    "sequence_number": next(seq),
                    "item_id": item["id"],
                    "output_index": 0,
                    "content_index": 0,
                    "delta": word + " ",
                    "logprobs": [],
                },
            )
        )
    events += [
        sse(
            "response.output_text.done",
            {
                "type": "response.output_text.done",
                "sequence_number": next(seq),
                "item_id": item["id"],
                "output_index": 0,
                "content_index": 0,
                "text": text,
                "logprobs": [],
            },
        ),
        sse(
            "response.content_part.done",
            {
                "type": "response.content_part.done",
                "sequence_number": next(seq),
                "item_id": item["id"],
                "output_index": 0,
                "content_index": 0,
                "part": item["content"][0],
            },
        ),
        sse(
            "response.output_item.done",
            {
                "type": "response.output_item.done",
                "sequence_number": next(seq),
                "output_index": 0,
                "item": item,
            },
        ),
        sse(
            "response.completed",
            {"type": "response.completed", "sequence_number": next(seq), "response": done},
        ),
    ]
    return events


def gemini_response(model: str = "gemini-test", text: str = TEXT) -> dict[str, Any]:
    return {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 7, "totalTokenCount": 19},
        "modelVersion": model,
        "responseId": "fake01",
    }


def gemini_events(model: str = "gemini-test", text: str = TEXT) -> list[bytes]:
    words = text.split(" ")
    events = []
    for i, word in enumerate(words):
        chunk: dict[str, Any] = {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [{"text": word + (" " if i < len(words) - 1 else "")}],
                    },
                    "index": 0,
                }
            ],
            "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12},
            "modelVersion": model,
            "responseId": "fake01",
        }
        if i == len(words) - 1:
            chunk["candidates"][0]["finishReason"] = "STOP"
            chunk["usageMetadata"] = {
                "promptTokenCount": 12,
                "candidatesTokenCount": 7,
                "totalTokenCount": 19,
            }
        events.append(sse(None, chunk))
    return events


def wire_of_path(path: str) -> str | None:
    bare = path.split("?", 1)[0]
    if "/messages" in bare:
        return "anthropic"
    if bare.endswith("/chat/completions"):
        return "openai"
    if "/responses" in bare:
        return "openai_responses"
    if ":generateContent" in bare or ":streamGenerateContent" in bare:
        return "gemini"
    return None


def default_answer(path: str, body: Any) -> tuple[int, Any, list[bytes] | None]:
    """(status, json body, sse events or None) the fake gives when no reply is queued."""
    wire = wire_of_path(path)
    model = body.get("model") if isinstance(body, dict) else None
    stream = bool(isinstance(body, dict) and body.get("stream")) or ":streamGenerateContent" in path
    if wire == "anthropic":
        if path.split("?")[0].endswith("/count_tokens"):
            return 200, {"input_tokens": 12}, None
        return (
            200,
            anthropic_message(model or "claude-test"),
            anthropic_events(model or "claude-test") if stream else None,
        )
    if wire == "openai":
        return (
            200,
            openai_chat(model or "gpt-test"),
            openai_chat_events(model or "gpt-test") if stream else None,
        )
    if wire == "openai_responses":
        return (
            200,
            openai_response(model or "gpt-test"),
            openai_response_events(model or "gpt-test") if stream else None,
        )
    if wire == "gemini":
        gm = path.split("/models/")[-1].split(":")[0] if "/models/" in path else "gemini-test"
        return 200, gemini_response(gm), gemini_events(gm) if stream else None
    return 404, {"error": {"message": f"fake provider: unknown path {path}"}}, None
