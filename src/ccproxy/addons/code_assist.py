"""CodeAssistAddon: a buffered Code Assist answer loses its `{response: ...}` envelope here,
through the Gemini intake's envelope stage (the one streamed chunks go through), before the
transform addon converts it for the client. Streams are unwrapped chunk by chunk by the
streaming addon's converter."""

from __future__ import annotations

import json

from mitmproxy import http

from ccproxy.flows import meta
from ccproxy.lightllm.code_assist import unwrap_on_return
from ccproxy.lightllm.stream.gemini import unwrap_buffered


class CodeAssistAddon:
    def response(self, flow: http.HTTPFlow) -> None:
        resp = flow.response
        if resp is None or resp.stream or not unwrap_on_return(flow.metadata.get(meta.CODE_ASSIST)):
            return
        if "json" not in resp.headers.get("content-type", "").lower():
            return
        try:
            body = json.loads(resp.get_content(strict=False) or b"")
        except ValueError:
            return
        inner = unwrap_buffered(body)
        if inner is body:
            return
        # the envelope as it arrived stays on the flow; the client (and the transform) see the inside
        flow.metadata[meta.UPSTREAM_RESPONSE] = resp.get_state()
        resp.content = json.dumps(inner, ensure_ascii=False, separators=(",", ":")).encode()
        flow.metadata[meta.CLIENT_RESPONSE] = resp.get_state()
