"""pplx_stamp_headers: the headers Perplexity's documented API expects, on sentinel traffic
routed to a `type: perplexity` provider.

inject_auth has already put the API key in `Authorization: Bearer`; this hook sets `accept` to
what the request asks for (an event stream or JSON), keeps `content-type` JSON, and drops the
headers of other vendors' APIs that a converted request may still carry. The seeds' version
stamped browser cookies for the consumer web subscription; that is declined on purpose
(DESIGN.md), and asking for it is a config error.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from ccproxy.config.models import DECLINED_WEB_MESSAGE
from ccproxy.flows import meta
from ccproxy.pipeline import Context, hook

# Other vendors' headers: meaningless to Perplexity, and x-api-key would be a second credential.
# (anthropic-* headers are dropped by the transform when it converts an Anthropic request.)
FOREIGN = ("x-api-key", "openai-organization", "openai-project", "openai-beta")
WRITES = ("accept", "content-type", *FOREIGN)


class PplxParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["api"] = "api"

    @field_validator("mode", mode="before")
    @classmethod
    def _declined(cls, v: object) -> object:
        if v in ("web", "pro", "cookie", "browser"):
            raise ValueError(f"mode {v!r}: {DECLINED_WEB_MESSAGE}")
        return v


def _perplexity_sentinel_flow(ctx: Context) -> bool:
    registry = ctx.services.get("credentials")
    provider = registry.providers.get(ctx.provider or "") if registry is not None else None
    return provider is not None and provider.type == "perplexity" and bool(ctx.get("metadata.credential_injected"))


def client_streams(ctx: Context) -> bool:
    """Whether the client asked for a stream (conversion keeps that): read from the client's own
    request, so this hook depends on no other hook's body writes."""
    snap = meta.client_request(ctx.flow)
    if snap is None:
        return False
    if ":streamgeneratecontent" in snap.path.lower():
        return True
    try:
        body = json.loads(snap.content or b"")
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("stream") is True


# Declared narrowly (the client snapshot, single header names): it must order cleanly next to
# hooks that rewrite the whole body or header set (shape, commitbee_compat).
@hook(
    reads=["metadata.client_request", "metadata.provider", "metadata.credential_injected"],
    writes=[f"request.headers.{h}" for h in WRITES],
    guard=_perplexity_sentinel_flow,
)
def pplx_stamp_headers(ctx: Context, params: PplxParams) -> None:
    """Stamps Perplexity API headers (accept, content-type) on sentinel traffic; drops foreign ones."""
    h = ctx.headers
    h["accept"] = "text/event-stream" if client_streams(ctx) else "application/json"
    h["content-type"] = "application/json"
    for name in FOREIGN:
        h.pop(name, None)
