"""`ccproxy shapes audit`: is each shape file safe and usable?"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccproxy.config import Config
from ccproxy.lightllm.ir import Wire
from ccproxy.shapes.merge import DEFAULT_CONTENT_FIELDS
from ccproxy.shapes.sanitize import find_secrets, json_body
from ccproxy.shapes.store import PACKAGED_DIR, SUFFIX, ShapeFileError, read_shape_file

WIRES: tuple[Wire, ...] = ("anthropic", "openai", "openai_responses", "gemini")
# What a generation body of each wire cannot do without (a shape lacking it is no envelope for content).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "anthropic": ("model", "messages"),
    "openai": ("model", "messages"),
    "openai_responses": ("model", "input"),
    "gemini": ("contents",),
}


@dataclass
class AuditResult:
    path: Path
    provider: str
    wire: str | None = None
    flows: int = 0
    captured_at: float | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def age_days(self) -> float | None:
        return None if self.captured_at is None else (time.time() - self.captured_at) / 86400

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "provider": self.provider,
            "wire": self.wire,
            "flows": self.flows,
            "captured_at": self.captured_at,
            "age_days": None if self.age_days is None else round(self.age_days, 1),
            "ok": self.ok,
            "problems": self.problems,
            "notes": self.notes,
        }


def _wire_for(provider: str, config: Config, packaged: bool) -> str | None:
    entry = config.ccproxy.providers.get(provider)
    if entry is not None:
        return entry.wire
    return provider if packaged and provider in WIRES else None


def audit_file(path: Path, config: Config, *, max_age_days: float | None = None) -> AuditResult:
    provider = path.name.removesuffix(SUFFIX)
    packaged = path.parent.resolve() == PACKAGED_DIR.resolve()
    result = AuditResult(path, provider)
    try:
        flows = read_shape_file(path)
    except ShapeFileError as e:
        result.problems.append(str(e))
        return result
    result.flows = len(flows)
    last = flows[-1].request
    result.captured_at = last.timestamp_start
    result.wire = _wire_for(provider, config, packaged)
    if result.wire is None:
        known = ", ".join(sorted(config.ccproxy.providers)) or "none configured"
        result.problems.append(f"unknown provider {provider!r} (configured: {known})")
    credential_header = None
    if (entry := config.ccproxy.providers.get(provider)) is not None:
        credential_header = entry.header
    for i, fl in enumerate(flows):
        for where in find_secrets(fl.request, [credential_header] if credential_header else []):
            result.problems.append(f"flow {i}: secret left in {where}")
    body = json_body(last)
    if not isinstance(body, dict):
        result.problems.append("the shape's body is not a JSON object")
    elif result.wire is not None:
        profile = config.ccproxy.shaping.providers.get(provider)
        wanted = profile.content_fields if profile and profile.content_fields else REQUIRED_FIELDS[result.wire]
        missing = [f for f in wanted if f not in body]
        if missing:
            result.problems.append(f"content fields missing from the body: {', '.join(missing)}")
        unknown = [
            f
            for f in (profile.merge_strategies if profile else {})
            if f not in body and f not in DEFAULT_CONTENT_FIELDS[result.wire]
        ]
        if unknown:
            result.notes.append(f"merge strategies for fields the shape does not have: {', '.join(unknown)}")
    age = result.age_days
    if age is not None:
        if max_age_days is not None and age > max_age_days:
            result.problems.append(f"captured {age:.0f} days ago (limit {max_age_days:g})")
        elif age > 90:
            result.notes.append(f"captured {age:.0f} days ago: clients change their requests; consider a new capture")
    return result


def audit_directory(directory: Path, config: Config, *, max_age_days: float | None = None) -> list[AuditResult]:
    return [audit_file(p, config, max_age_days=max_age_days) for p in sorted(directory.glob(f"*{SUFFIX}"))]
