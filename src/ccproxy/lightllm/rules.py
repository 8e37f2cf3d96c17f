"""Transform rules (`lightllm.transforms`, older spelling `inspector.transforms`): pure matching.

A rule matches on `match_host` (regex searched in the pretty host, the Host header and
X-Forwarded-Host), `match_path` (regex, default `.*`) and `match_model` (regex, optional; a
request without a model never matches it). The first matching rule wins. Its action is
`redirect` (new destination, body kept), `transform` (converted through lightllm for
`dest_provider`, model replaced by `dest_model`) or `passthrough` (forwarded unchanged).
Between `redirect` and `transform` the wire types decide: the same wire needs no conversion,
different wires always do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ccproxy.lightllm.gemini import model_from_path
from ccproxy.lightllm.ir import Wire

Action = Literal["redirect", "transform", "passthrough"]


class RuleLike(Protocol):
    """What a rule offers; ccproxy.config.models.TransformRule satisfies it."""

    @property
    def match_host(self) -> str | None: ...
    @property
    def match_path(self) -> str: ...
    @property
    def match_model(self) -> str | None: ...
    @property
    def action(self) -> Action: ...
    @property
    def dest_provider(self) -> str | None: ...
    @property
    def dest_model(self) -> str | None: ...


@dataclass(frozen=True)
class RequestView:
    """The parts of a request rules look at."""

    host: str
    path: str
    headers: Mapping[str, str]
    model: str | None = None


@dataclass(frozen=True)
class CompiledRule:
    index: int
    rule: RuleLike
    host: re.Pattern[str] | None
    path: re.Pattern[str]
    model: re.Pattern[str] | None


def _compile(pattern: str | None, where: str) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as e:
        raise ValueError(f"{where}: invalid regex {pattern!r}: {e}") from e


def compile_rules(rules: Sequence[RuleLike], where: str = "lightllm.transforms") -> list[CompiledRule]:
    """Compile every regex once; a bad one is a ValueError naming its key path."""
    out = []
    for i, r in enumerate(rules):
        path = _compile(r.match_path or ".*", f"{where}[{i}].match_path")
        assert path is not None
        out.append(
            CompiledRule(
                i,
                r,
                _compile(r.match_host, f"{where}[{i}].match_host"),
                path,
                _compile(r.match_model, f"{where}[{i}].match_model"),
            )
        )
    return out


def _hosts(view: RequestView) -> list[str]:
    lower = {k.lower(): v for k, v in view.headers.items()}
    return [h for h in (view.host, lower.get("host"), lower.get("x-forwarded-host")) if h]


def match_rule(rules: Sequence[CompiledRule], view: RequestView) -> CompiledRule | None:
    for r in rules:
        if r.host is not None and not any(r.host.search(h) for h in _hosts(view)):
            continue
        if not r.path.search(view.path):
            continue
        if r.model is not None and (view.model is None or not r.model.search(view.model)):
            continue
        return r
    return None


def effective_action(action: Action, client_wire: Wire | None, dest_wire: Wire | None) -> Action:
    """`passthrough` stays; otherwise the same wire means redirect, different wires transform."""
    if action == "passthrough":
        return action
    if client_wire is None or dest_wire is None or client_wire == dest_wire:
        return "redirect"
    return "transform"


def model_of(body: bytes | str | None, path: str, wire: Wire | None) -> str | None:
    """The model a request asks for: Gemini's from the URL, the others' from the JSON body."""
    if wire == "gemini":
        return model_from_path(path)
    if not body:
        return None
    try:
        data: Any = json.loads(body)
    except ValueError:
        return None
    model = data.get("model") if isinstance(data, dict) else None
    return model if isinstance(model, str) else None


def describe(rule: CompiledRule, action: Action, dest_wire: Wire | None) -> dict[str, Any]:
    """The `ccproxy.transform` flow metadata for an applied rule (primitives only)."""
    r = rule.rule
    return {
        "rule_index": rule.index,
        "match_host": r.match_host,
        "match_path": r.match_path,
        "match_model": r.match_model,
        "configured_action": r.action,
        "action": action,
        "dest_provider": r.dest_provider,
        "dest_model": r.dest_model,
        "dest_wire": dest_wire,
    }
