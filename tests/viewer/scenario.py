"""Flows for the viewer, made through the real daemon by the official SDKs (tests and screenshots).

- an Anthropic tool loop with thinking (3 turns; the last one silently changes the system
  prompt), whose first prompt carries an image, a named document and an XSS attempt;
- an OpenAI Chat client converted to an Anthropic upstream by a transform rule;
- a Gemini stream.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import anthropic
import openai
from google import genai
from google.genai import types as gtypes

from tests.support.canned import anthropic_events, anthropic_message
from tests.support.daemon import DaemonProcess, provider_entry
from tests.support.fake_provider import FakeProvider, Reply

SESSION = "0b5c-tool-loop"
USER_ID = f"user_test_account__session_{SESSION}"
SYSTEM = "You are a careful coding agent. Use tools to read files before answering."
SYSTEM_CHANGED = SYSTEM + " Today's date is 2026-12-01."
XSS = (
    "Summarise README.md. <script>window.__xss = 'script'</script> "
    "[click me](javascript:window.__xss='link') <img src=x onerror=\"window.__xss='img'\"> **bold**"
)
# a 1x1 PNG
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
PDF = base64.b64encode(b"%PDF-1.4\n% a tiny document\n").decode()
TOOLS: list[dict[str, Any]] = [
    {
        "name": "read_file",
        "description": "Read a file of the repository.",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    }
]
ANSWER = "The README says: ccproxy captures LLM traffic."


def start_daemon(fake: FakeProvider, config_dir: Path) -> DaemonProcess:
    rule = {"match_path": "^/v1/chat/completions", "action": "transform", "dest_provider": "anthropic"}
    config: dict[str, Any] = {
        "ccproxy": {
            "providers": {w: provider_entry(fake.hostport, w) for w in ("anthropic", "openai", "gemini")},
            "lightllm": {"transforms": [rule]},
        }
    }
    return DaemonProcess(config_dir, config).start()


def _tool_use_message() -> dict[str, Any]:
    msg = anthropic_message()
    msg["content"] = [
        {
            "type": "thinking",
            "thinking": "The user wants a summary; I should read README.md first.",
            "signature": "c2ln",
        },
        {"type": "tool_use", "id": "toolu_01readme", "name": "read_file", "input": {"path": "README.md"}},
    ]
    msg["stop_reason"] = "tool_use"
    return msg


def anthropic_tool_loop(daemon: DaemonProcess, fake: FakeProvider) -> None:
    client = anthropic.Anthropic(api_key="sk-ant-test", base_url=daemon.url, max_retries=0)
    first: list[dict[str, Any]] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": XSS},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
                {
                    "type": "document",
                    "title": "design-notes.pdf",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
                },
            ],
        }
    ]
    common: dict[str, Any] = {
        "model": "claude-test",
        "max_tokens": 1024,
        "tools": TOOLS,
        "metadata": {"user_id": USER_ID},
        "thinking": {"type": "enabled", "budget_tokens": 512},
    }
    fake.queue(Reply(json=_tool_use_message()))
    reply = client.messages.create(system=SYSTEM, messages=first, **common)  # type: ignore[call-overload]
    history = [*first, {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in reply.content]}]
    history.append(
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01readme", "content": "# ccproxy\ncaptures LLM traffic"}
            ],
        }
    )
    fake.queue(Reply(events=anthropic_events(text=ANSWER)))
    with client.messages.stream(system=SYSTEM, messages=history, **common) as stream:  # type: ignore[arg-type]
        final = stream.get_final_message()
    history += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in final.content]},
        {"role": "user", "content": "Thanks!"},
    ]
    fake.queue(Reply(json=anthropic_message(text="You're welcome.")))
    client.messages.create(system=SYSTEM_CHANGED, messages=history, **common)  # type: ignore[call-overload]


def openai_converted(daemon: DaemonProcess) -> str:
    client = openai.OpenAI(api_key="sk-test", base_url=daemon.url + "/v1", max_retries=0)
    reply = client.chat.completions.create(
        model="claude-test",
        messages=[
            {"role": "system", "content": "You answer in one sentence."},
            {"role": "user", "content": "What does a proxy do?"},
        ],
    )
    return reply.choices[0].message.content or ""


def gemini_stream(daemon: DaemonProcess, prompt: str = "Tell me about streams.") -> str:
    client = genai.Client(api_key="test-key", http_options=gtypes.HttpOptions(base_url=daemon.url))
    chunks = client.models.generate_content_stream(model="gemini-test", contents=prompt)
    return "".join(c.text or "" for c in chunks)


def make_all(daemon: DaemonProcess, fake: FakeProvider) -> None:
    anthropic_tool_loop(daemon, fake)
    openai_converted(daemon)
    gemini_stream(daemon)


def anthropic_turn(daemon: DaemonProcess, session: str, messages: list[dict[str, Any]]) -> None:
    """One plain turn in an explicit session (for the live-append test)."""
    client = anthropic.Anthropic(api_key="sk-ant-test", base_url=daemon.url, max_retries=0)
    client.messages.create(
        model="claude-test",
        max_tokens=64,
        system=SYSTEM,
        messages=messages,  # type: ignore[arg-type]
        metadata={"user_id": f"user_test_account__session_{session}"},
    )
