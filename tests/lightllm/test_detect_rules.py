"""Wire detection from method/path/headers, Gemini paths, and transform rule matching."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ccproxy.lightllm.detect import Endpoint, classify, detect_wire
from ccproxy.lightllm.gemini import gemini_path, model_from_path, parse_path
from ccproxy.lightllm.rules import RequestView, compile_rules, effective_action, match_rule, model_of


@pytest.mark.parametrize(
    ("method", "path", "headers", "want"),
    [
        ("POST", "/v1/messages", {}, Endpoint("anthropic", "generate")),
        ("POST", "/v1/messages?beta=true", {}, Endpoint("anthropic", "generate")),
        ("POST", "/anthropic/v1/messages", {}, Endpoint("anthropic", "generate")),
        ("POST", "/v1/messages/count_tokens?beta=true", {}, Endpoint("anthropic", "count_tokens")),
        ("POST", "/v1/chat/completions", {}, Endpoint("openai", "generate")),
        ("POST", "/openai/v1/chat/completions", {}, Endpoint("openai", "generate")),
        ("POST", "/v1beta/openai/chat/completions", {}, Endpoint("openai", "generate")),
        ("POST", "/v1/responses", {}, Endpoint("openai_responses", "generate")),
        ("POST", "/backend-api/codex/responses", {}, Endpoint("openai_responses", "generate")),
        (
            "POST",
            "/v1beta/models/gemini-2.5-pro:generateContent",
            {},
            Endpoint("gemini", "generate", "gemini-2.5-pro", False),
        ),
        (
            "POST",
            "/v1/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            {},
            Endpoint("gemini", "generate", "gemini-2.5-flash", True),
        ),
        (
            "POST",
            "/v1beta1/projects/p/locations/global/publishers/google/models/gemini-2.0-flash:generateContent",
            {},
            Endpoint("gemini", "generate", "gemini-2.0-flash", False),
        ),
        ("POST", "/v1beta/models/gemini-2.5-pro:countTokens", {}, Endpoint("gemini", "count_tokens", "gemini-2.5-pro")),
        ("GET", "/v1/models", {}, Endpoint("openai", "models")),
        ("GET", "/v1/models", {"Anthropic-Version": "2023-06-01"}, Endpoint("anthropic", "models")),
        ("GET", "/v1beta/models", {}, Endpoint("gemini", "models")),
        ("GET", "/v1/messages", {}, None),
        ("POST", "/v1/embeddings", {}, None),
        ("POST", "/health", {}, None),
    ],
)
def test_classify(method: str, path: str, headers: dict[str, str], want: Endpoint | None) -> None:
    assert classify(method, path, headers) == want


def test_detect_wire_only_for_conversations() -> None:
    assert detect_wire("POST", "/v1/messages", {}) == "anthropic"
    assert detect_wire("POST", "/v1/messages/count_tokens", {}) is None
    assert detect_wire("GET", "/v1/models", {}) is None


def test_gemini_paths() -> None:
    assert gemini_path("gemini-2.5-pro", False) == "/v1beta/models/gemini-2.5-pro:generateContent"
    assert gemini_path("g", True, "v1") == "/v1/models/g:streamGenerateContent?alt=sse"
    assert parse_path("/v1beta/models/g:streamGenerateContent?alt=sse") == ("v1beta", "g", "streamGenerateContent")
    assert model_from_path("/v1/chat/completions") is None


@dataclass
class Rule:
    match_host: str | None = None
    match_path: str = ".*"
    match_model: str | None = None
    action: str = "redirect"
    dest_provider: str | None = None
    dest_model: str | None = None


RULES = [
    Rule(match_host=r"^api\.deepseek\.com$", dest_provider="deepseek"),
    Rule(match_path="^/v1/chat/completions", match_model="^gpt-4o", action="transform", dest_provider="anthropic"),
    Rule(match_path="^/v1/messages", match_model="^claude-3", action="passthrough"),
    Rule(match_path="^/v1/messages", dest_provider="deepseek", dest_model="deepseek-chat"),
]


@pytest.mark.parametrize(
    ("view", "want"),
    [
        (RequestView("127.0.0.1", "/v1/chat/completions", {}, "gpt-4o-mini"), 1),
        (RequestView("127.0.0.1", "/v1/chat/completions", {}, "gpt-5"), None),
        (RequestView("127.0.0.1", "/v1/chat/completions", {}, None), None),
        (RequestView("127.0.0.1", "/v1/messages", {}, "claude-3-haiku"), 2),
        (RequestView("127.0.0.1", "/v1/messages", {}, "claude-sonnet-4-5"), 3),
        (RequestView("api.deepseek.com", "/v1/chat/completions", {}, "gpt-4o"), 0),
        (RequestView("127.0.0.1", "/v1/chat/completions", {"Host": "api.deepseek.com"}, "x"), 0),
        (RequestView("127.0.0.1", "/x", {"X-Forwarded-Host": "api.deepseek.com"}, None), 0),
    ],
)
def test_first_matching_rule_wins(view: RequestView, want: int | None) -> None:
    hit = match_rule(compile_rules(RULES), view)  # type: ignore[arg-type]
    assert (hit.index if hit else None) == want


def test_bad_regex_names_the_key_path() -> None:
    with pytest.raises(ValueError, match=r"inspector\.transforms\[1\]\.match_model: invalid regex"):
        compile_rules([Rule(), Rule(match_model="(")], "inspector.transforms")  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("action", "client", "dest", "want"),
    [
        ("redirect", "anthropic", "anthropic", "redirect"),
        ("transform", "anthropic", "anthropic", "redirect"),
        ("redirect", "openai", "anthropic", "transform"),
        ("transform", "openai", "gemini", "transform"),
        ("passthrough", "openai", "gemini", "passthrough"),
        ("transform", "openai", None, "redirect"),
    ],
)
def test_same_wire_redirects_different_wire_transforms(action: str, client: str, dest: str, want: str) -> None:
    assert effective_action(action, client, dest) == want  # type: ignore[arg-type]


def test_model_of() -> None:
    assert model_of(b'{"model": "gpt-4o"}', "/v1/chat/completions", "openai") == "gpt-4o"
    assert model_of(b"{}", "/v1beta/models/g:generateContent", "gemini") == "g"
    assert model_of(b"not json", "/v1/messages", "anthropic") is None
