"""The official SDKs as oracles: rendered requests must validate against their typed params,
rendered responses must parse with their model classes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import anthropic.types as at
import openai.types.chat as oc
import openai.types.responses as orr
from google.genai import types as gt
from openai.types.chat import ChatCompletion
from pydantic import TypeAdapter

from tests.conftest import corpus_path

_ANTHROPIC_REQ: TypeAdapter[Any] = TypeAdapter(at.MessageCreateParams)
_CHAT_REQ: TypeAdapter[Any] = TypeAdapter(oc.CompletionCreateParams)
_RESPONSES_REQ: TypeAdapter[Any] = TypeAdapter(orr.ResponseCreateParams)
_GEMINI_FIELDS = {
    "contents": TypeAdapter(list[gt.Content]),
    "systemInstruction": TypeAdapter(gt.Content),
    "tools": TypeAdapter(list[gt.Tool]),
    "toolConfig": TypeAdapter(gt.ToolConfig),
    "generationConfig": TypeAdapter(gt.GenerationConfig),
}


CORPUS = corpus_path()
CORPUS_DIRS = {"anthropic": "anthropic", "openai": "openai_chat", "openai_responses": "openai_responses",
               "gemini": "gemini"}  # fmt: skip


def force(obj: Any) -> Any:
    """Consume the lazy iterators pydantic returns for `Iterable[...]` fields, so every
    nested item is really validated."""
    if isinstance(obj, Mapping):
        return {k: force(v) for k, v in obj.items()}
    if isinstance(obj, str | bytes):
        return obj
    if isinstance(obj, Iterable):
        return [force(v) for v in obj]
    return obj


def check_request(wire: str, body: dict[str, Any]) -> None:
    json.dumps(body)  # plain JSON only
    if wire == "anthropic":
        force(_ANTHROPIC_REQ.validate_python(body))
    elif wire == "openai":
        force(_CHAT_REQ.validate_python(body))
    elif wire == "openai_responses":
        force(_RESPONSES_REQ.validate_python(body))
    elif wire == "gemini":
        unknown = set(body) - set(_GEMINI_FIELDS)
        assert not unknown, f"unexpected Gemini request keys {unknown}"
        for key, adapter in _GEMINI_FIELDS.items():
            if key in body:
                adapter.validate_python(body[key])
    else:
        raise AssertionError(wire)


def check_response(wire: str, body: dict[str, Any]) -> Any:
    json.dumps(body)
    if wire == "anthropic":
        return at.Message.model_validate(body)
    if wire == "openai":
        return ChatCompletion.model_validate(body)
    if wire == "openai_responses":
        return orr.Response.model_validate(body)
    if wire == "gemini":
        return gt.GenerateContentResponse.model_validate(body)
    raise AssertionError(wire)
