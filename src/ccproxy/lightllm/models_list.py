"""A synthetic model list for `GET /v1/models` on the listener.

ccproxy does not ask the providers (that would need their credentials and network on every
listing); it lists what it can route: every `dest_model` of a transform rule, every
`match_model` that is a plain name (so a client can pick the alias a rule rewrites), and
names the caller adds (e.g. models seen in recent flows). Each model is owned by the provider
its rule sends it to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ccproxy.lightllm.rules import RuleLike

_LITERAL = re.compile(r"^\^?([A-Za-z0-9][A-Za-z0-9._:/@-]*)\$?$")


@dataclass(frozen=True)
class ModelEntry:
    id: str
    owned_by: str


def _literal(pattern: str | None) -> str | None:
    if not pattern:
        return None
    m = _LITERAL.match(pattern)
    # A dot in a regex matches anything; names with dots are still meant literally here.
    return m.group(1) if m else None


def collect(
    rules: Sequence[RuleLike],
    providers: Mapping[str, Any] | None = None,
    extra: Iterable[tuple[str, str]] = (),
) -> list[ModelEntry]:
    """Unique models, in order: rule targets, rule aliases, then `extra` (id, owner) pairs."""
    seen: dict[str, ModelEntry] = {}

    def add(model: str | None, owner: str | None) -> None:
        if model and model not in seen:
            seen[model] = ModelEntry(model, owner or "ccproxy")

    for r in rules:
        add(r.dest_model, r.dest_provider)
    for r in rules:
        add(_literal(r.match_model), r.dest_provider or "ccproxy")
    for model, owner in extra:
        add(model, owner)
    del providers  # owners come from rules; kept in the signature for provider-declared lists
    return list(seen.values())


def openai_list(models: Sequence[ModelEntry]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"id": m.id, "object": "model", "created": 0, "owned_by": m.owned_by} for m in models],
    }


def anthropic_list(models: Sequence[ModelEntry]) -> dict[str, Any]:
    data = [
        {"type": "model", "id": m.id, "display_name": m.id, "created_at": "1970-01-01T00:00:00Z", "lifecycle": "active"}
        for m in models
    ]
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


def gemini_list(models: Sequence[ModelEntry]) -> dict[str, Any]:
    return {
        "models": [
            {
                "name": f"models/{m.id}",
                "displayName": m.id,
                "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
            }
            for m in models
        ]
    }


def render(models: Sequence[ModelEntry], headers: Mapping[str, str], path: str = "/v1/models") -> dict[str, Any]:
    """The list in the asker's format: Anthropic's when the request has `anthropic-version`,
    Gemini's on /v1beta/models, OpenAI's otherwise."""
    if any(k.lower() == "anthropic-version" for k in headers):
        return anthropic_list(models)
    if path.split("?", 1)[0].startswith("/v1beta/"):
        return gemini_list(models)
    return openai_list(models)
