"""verbose_mode: ask Anthropic for full thinking blocks by dropping `redact-thinking-*` betas."""

from __future__ import annotations

from ccproxy.pipeline import Context, hook

HEADER = "anthropic-beta"
REDACT_PREFIX = "redact-thinking-"


def strip_redact_betas(value: str) -> str:
    """`a, redact-thinking-2025-01-01,b` -> `a,b` (the header is a comma-separated token list)."""
    tokens = (t.strip() for t in value.split(","))
    return ",".join(t for t in tokens if t and not t.lower().startswith(REDACT_PREFIX))


@hook(
    reads=[f"request.headers.{HEADER}"],
    writes=[f"request.headers.{HEADER}"],
    guard=lambda ctx: REDACT_PREFIX in ctx.headers.get(HEADER, "").lower(),
)
def verbose_mode(ctx: Context) -> None:
    """Strip redact-thinking-* from anthropic-beta."""
    kept = strip_redact_betas(ctx.headers.get(HEADER, ""))
    # An empty anthropic-beta header is not the same as none; drop it when nothing is left.
    ctx.set(f"request.headers.{HEADER}", kept or None)
