"""A replayed (after-401) event stream arrives whole, not through the streaming addon's
per-chunk tap; when the flow is converted across wire formats, convert it here, in one go."""

from __future__ import annotations

from mitmproxy import http

from ccproxy.addons.streaming import request_context, stream_kind
from ccproxy.flows import meta
from ccproxy.lightllm.code_assist import unwrap_on_return
from ccproxy.lightllm.ir import Wire
from ccproxy.lightllm.stream import StreamConverter


def convert_buffered_stream(flow: http.HTTPFlow) -> bool:
    """Convert flow.response (a complete upstream stream) into the client's wire format.
    Returns True when the body was converted."""
    resp = flow.response
    if resp is None or resp.status_code >= 400 or stream_kind(flow) is None:
        return False
    kind = stream_kind(flow)
    client: Wire | None = flow.metadata.get(meta.CLIENT_WIRE)
    upstream: Wire | None = flow.metadata.get(meta.UPSTREAM_WIRE) or client
    envelope = unwrap_on_return(flow.metadata.get(meta.CODE_ASSIST))
    if client is None or upstream is None or (client == upstream and not envelope):
        return False
    rctx = request_context(flow)
    # Same rule as the streaming addon: non-Gemini clients are rendered as SSE.
    if client != "gemini":
        rctx.gemini_sse = True
    converter = StreamConverter(upstream, client, rctx, upstream_gemini_sse=kind == "sse", upstream_envelope=envelope)
    if converter.passthrough:
        return False
    flow.metadata[meta.UPSTREAM_RESPONSE] = resp.get_state()
    body = resp.get_content(strict=False) or b""
    out = converter.feed(body) + converter.close()
    gemini_array = client == "gemini" and not rctx.gemini_sse
    resp.headers.pop("content-encoding", None)
    resp.headers["content-type"] = (
        "application/json; charset=UTF-8" if gemini_array else "text/event-stream; charset=utf-8"
    )
    resp.content = out
    flow.metadata[meta.CLIENT_RESPONSE] = resp.get_state()
    return True
