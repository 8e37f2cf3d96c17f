"""inject_auth: sentinel key (`sk-ant-oat-ccproxy-{provider}`) -> the provider's route
and real credential. The logic lives in ccproxy.providers.inject."""

from __future__ import annotations

from ccproxy.pipeline import Context, hook
from ccproxy.providers.errors import AuthConfigError
from ccproxy.providers.inject import inject_auth as inject
from ccproxy.providers.sentinel import HEADER_SLOTS, PREFIX, QUERY_SLOTS, may_carry_sentinel


def carries_sentinel(ctx: Context) -> bool:
    req = ctx.request
    if not may_carry_sentinel(req):
        return False
    return any(PREFIX in req.headers.get(h, "") for h in HEADER_SLOTS) or any(
        PREFIX in req.query.get(q, "") for q in QUERY_SLOTS
    )


@hook(
    reads=[*(f"request.headers.{h}" for h in HEADER_SLOTS), "request.url"],
    writes=[
        "request.headers",
        "request.host",
        "request.port",
        "request.scheme",
        "request.path",
        "metadata.provider",
        "metadata.upstream_wire",
        "metadata.credential_injected",
    ],
    guard=carries_sentinel,
)
async def inject_auth(ctx: Context) -> None:
    """Sentinel key (sk-ant-oat-ccproxy-{provider}) substitution from providers."""
    registry = ctx.services.get("credentials")
    if registry is None:
        raise AuthConfigError("ccproxy: no credential registry in this process (inject_auth runs inside the daemon)")
    await inject(ctx.flow, registry)
