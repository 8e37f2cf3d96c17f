"""Synthetic model lists (validated by the SDK model classes) and count_tokens estimates."""

from __future__ import annotations

import anthropic.types as at
import openai.types as ot
import pytest

from ccproxy.lightllm import count_tokens, models_list
from ccproxy.lightllm.ir import ConversionError
from tests.lightllm.lightllm_builders import WEATHER, Convo, request
from tests.lightllm.test_detect_rules import Rule

RULES = [
    Rule(match_path="^/v1/chat/completions", match_model="^gpt-4o$", action="transform",
         dest_provider="anthropic", dest_model="claude-haiku-4-5"),
    Rule(match_model=r"^deepseek-.*", dest_provider="deepseek", dest_model="deepseek-chat"),
    Rule(match_model="^claude-haiku-4-5$", dest_provider="anthropic"),
]  # fmt: skip


def test_collect_lists_targets_then_aliases_once() -> None:
    got = models_list.collect(RULES, extra=[("gemini-2.5-pro", "gemini"), ("gpt-4o", "x")])  # type: ignore[arg-type]
    assert [(m.id, m.owned_by) for m in got] == [
        ("claude-haiku-4-5", "anthropic"),
        ("deepseek-chat", "deepseek"),
        ("gpt-4o", "anthropic"),
        ("gemini-2.5-pro", "gemini"),
    ]


def test_lists_parse_with_the_sdks() -> None:
    models = models_list.collect(RULES)  # type: ignore[arg-type]
    oa = models_list.render(models, {}, "/v1/models")
    assert [ot.Model.model_validate(m).id for m in oa["data"]] == [m.id for m in models]
    an = models_list.render(models, {"anthropic-version": "2023-06-01"}, "/v1/models")
    assert [at.ModelInfo.model_validate(m).id for m in an["data"]] == [m.id for m in models]
    assert an["first_id"] == models[0].id and an["has_more"] is False
    ge = models_list.render(models, {}, "/v1beta/models")
    # REST shape (the genai SDK's Model class is its own renamed view of it).
    assert ge["models"][0]["name"] == f"models/{models[0].id}"
    assert "generateContent" in ge["models"][0]["supportedGenerationMethods"]
    assert models_list.anthropic_list([])["first_id"] is None


def test_estimate_counts_every_part_of_a_request() -> None:
    small = count_tokens.count_tokens_response(request("anthropic", Convo(tools=False)), "anthropic")
    full = count_tokens.count_tokens_response(request("anthropic", WEATHER), "anthropic")
    assert 10 < small["input_tokens"] < 40
    # tools, calls, results and one image (1600) on top
    assert full["input_tokens"] > small["input_tokens"] + count_tokens.IMAGE_TOKENS
    g = count_tokens.count_tokens_response(
        {"contents": request("gemini", WEATHER)["contents"]}, "gemini", "/v1beta/models/g:countTokens"
    )
    wrapped = count_tokens.count_tokens_response(
        {"generateContentRequest": request("gemini", WEATHER)}, "gemini", "/v1beta/models/g:countTokens"
    )
    assert 0 < g["totalTokens"] < wrapped["totalTokens"]


def test_estimate_is_about_four_bytes_per_token() -> None:
    body = {"messages": [{"role": "user", "content": "x" * 4000}], "model": "m"}
    n = count_tokens.count_tokens_response(body, "anthropic")["input_tokens"]
    assert n == 1000 + count_tokens.PER_MESSAGE


def test_count_for_other_wires_is_an_error() -> None:
    with pytest.raises(ConversionError, match="count_tokens"):
        count_tokens.count_request({"messages": []}, "openai")
