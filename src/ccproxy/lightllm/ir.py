"""The intermediate representation every wire format parses into and renders from.

Seed of the IR: the wire names, stop reasons and usage are shared by the
non-streaming converters and the streaming state machines.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

# Provider `type:` values in ccproxy.yaml; "openai" is OpenAI Chat Completions.
Wire = Literal["anthropic", "openai", "openai_responses", "gemini"]
WIRES: tuple[Wire, ...] = ("anthropic", "openai", "openai_responses", "gemini")

# Anthropic's stop reasons are the richest set; other formats map onto them.
StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal", "pause_turn", "error"]


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
