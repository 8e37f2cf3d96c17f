"""shape: replay a captured request envelope and stamp this request's content into it.

The shape for the flow's provider (local `{shapes_dir}/{provider}.mflow`, else the one
packaged for its wire type) gives the headers and body defaults; the profile's content
fields come from the incoming request (docs/shapes.md). Requests already sent by the
shape's own client family, and non-generation requests (token counts, model lists), keep
their own envelope. The flow records the applied shape as `metadata.shape`.
"""

from __future__ import annotations

import asyncio

from ccproxy.flows import meta
from ccproxy.pipeline import Context, hook
from ccproxy.shapes.apply import apply_shape, encode_headers, shaped_query, skip_reason
from ccproxy.shapes.store import ShapeLibrary


@hook(
    reads=["request.body", "request.headers", "request.path", "metadata.provider", "metadata.session_id"],
    writes=["request.body", "request.headers", "request.path", "metadata.shape"],
    guard=lambda ctx: ctx.provider is not None and isinstance(ctx.services.get("shapes"), ShapeLibrary),
)
async def shape(ctx: Context) -> None:
    """Replays a packaged or local shape and stamps content fields from the incoming request."""
    library: ShapeLibrary = ctx.services["shapes"]
    provider = ctx.provider
    assert provider is not None  # the guard
    # The shape file is re-read (off the event loop) only when it may have changed.
    if library.is_stale(provider):
        found = await asyncio.to_thread(library.refresh, provider)
    else:
        found = library.cached(provider)
    if found is None:
        return
    wire = library.wire_of(provider)
    # Decide from the path and headers first: touching ctx.body exposes it, and an exposed
    # body is serialised again after the hook (a cost a skipped request should not pay).
    if wire is None or skip_reason(ctx.request, found, wire) is not None:
        return
    body = ctx.body
    if not isinstance(body, dict):
        return
    credential_header = ctx.flow.metadata.get(meta.CREDENTIAL_HEADER)
    new_body, headers, applied = apply_shape(
        ctx.request,
        body,
        found,
        library.profile(provider),
        wire,
        session=ctx.get("metadata.session_id"),
        credential_header=credential_header if isinstance(credential_header, str) else None,
    )
    ctx.request.headers = encode_headers(headers)
    ctx.body = new_body
    query = shaped_query(ctx.request, found)
    if query != list(ctx.request.query.items(multi=True)):
        ctx.request.query = query  # mitmproxy's setter takes pairs
    ctx.set("metadata.shape", applied.to_dict())
