"""Test-only inbound hook: declares the upstream's wire format from a request header.

Stands in for the lightllm TransformAddon (cross-format routing) until it is on main: the
fake provider answers in whatever format the test queues, and this tells the streaming addon
which format that is.
"""

from __future__ import annotations

from ccproxy.pipeline import Context, hook

HEADER = "x-test-upstream-wire"


@hook(
    reads=[f"request.headers.{HEADER}"],
    writes=["metadata.upstream_wire", f"request.headers.{HEADER}"],
    guard=lambda ctx: bool(ctx.headers.get(HEADER)),
)
def route_hook(ctx: Context) -> None:
    """Set metadata.upstream_wire from the test header (and drop the header)."""
    ctx.set("metadata.upstream_wire", ctx.headers.get(HEADER))
    ctx.set(f"request.headers.{HEADER}", None)
