"""One conversation turn through the daemon with each official SDK, tagged with a session."""

from __future__ import annotations

import json

import anthropic
import openai
from google import genai
from google.genai import types as gt


def ask(wire: str, base_url: str, session: str, question: str = "what is new?", model: str | None = None) -> None:
    """A turn with one prior exchange, so "the final user message" is not the only message."""
    history = [{"role": "user", "content": "start the build"}, {"role": "assistant", "content": "Started."}]
    if wire == "anthropic":
        a = anthropic.Anthropic(base_url=base_url, api_key="sk-ant-client-key-MCP", max_retries=0)
        a.messages.create(
            model=model or "claude-haiku-4-5",
            max_tokens=16,
            metadata={"user_id": json.dumps({"device_id": "d", "session_id": session})},
            messages=[*history, {"role": "user", "content": question}],  # type: ignore[list-item]
        )
    elif wire == "openai":
        o = openai.OpenAI(base_url=base_url + "/v1", api_key="sk-openai-client-MCP", max_retries=0)
        o.chat.completions.create(
            model=model or "gpt-test",
            messages=[*history, {"role": "user", "content": question}],  # type: ignore[list-item]
            extra_headers={"session-id": session},
        )
    elif wire == "openai_responses":
        o = openai.OpenAI(base_url=base_url + "/v1", api_key="sk-openai-client-MCP", max_retries=0)
        o.responses.create(
            model=model or "gpt-test",
            input=[*history, {"role": "user", "content": question}],  # type: ignore[list-item]
            extra_headers={"session-id": session},
        )
    else:
        g = genai.Client(
            api_key="AIza-client-key-MCP-0000000000000",
            http_options=gt.HttpOptions(base_url=base_url, headers={"session-id": session}),
        )
        g.models.generate_content(
            model=model or "gemini-test",
            contents=[
                gt.Content(role="user", parts=[gt.Part(text="start the build")]),
                gt.Content(role="model", parts=[gt.Part(text="Started.")]),
                gt.Content(role="user", parts=[gt.Part(text=question)]),
            ],
        )
