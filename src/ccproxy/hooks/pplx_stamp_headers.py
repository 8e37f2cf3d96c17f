"""pplx_stamp_headers: the headers Perplexity's documented API expects, on sentinel traffic
routed to a `type: perplexity` provider.

inject_auth has already put the API key in `Authorization: Bearer`; this hook sets `accept` to
what the request asks for (an event stream or JSON), keeps `content-type` JSON, and drops the
headers of other vendors' APIs that a converted request may still carry. The seeds' version
stamped browser cookies for the consumer web subscription; that is declined on purpose
(DESIGN.md), and asking for it is a config error.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from ccproxy.config.models import DECLINED_WEB_MESSAGE
from ccproxy.pipeline import Context, hook

# Other vendors' headers: meaningless to Perplexity, and some (x-api-key) would be a second credential.
FOREIGN = ("x-api-key", "anthropic-version", "anthropic-beta", "openai-organization", "openai-project", "openai-beta")


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


@hook(
    reads=["request.body.stream", "metadata.provider", "metadata.credential_injected"],
    writes=["request.headers"],
    guard=_perplexity_sentinel_flow,
)
def pplx_stamp_headers(ctx: Context, params: PplxParams) -> None:
    """Stamps Perplexity API headers (accept, content-type) on sentinel traffic; drops foreign ones."""
    h = ctx.headers
    h["accept"] = "text/event-stream" if ctx.get("request.body.stream") is True else "application/json"
    h["content-type"] = "application/json"
    for name in FOREIGN:
        h.pop(name, None)
