"""First look at every flow: snapshot the client request, classify its wire format,
and give reverse-listener flows their default route.

Later addons may re-route (inject_auth by sentinel key, transform rules); this is
only the route a request takes when nothing else claims it.
"""

from __future__ import annotations

import logging
import re

from mitmproxy import http

from ccproxy.addons.listener import is_reverse, listener_of
from ccproxy.config.models import Config
from ccproxy.flows import meta
from ccproxy.lightllm.error_bodies import error_response
from ccproxy.lightllm.ir import Wire
from ccproxy.providers.destination import apply_destination, provider_for_wire, rewrite_path

log = logging.getLogger(__name__)

_GEMINI = re.compile(r"/v1(?:beta|alpha)?/models/[^/:]+:(?:generateContent|streamGenerateContent|countTokens)")


def guess_wire(path: str) -> Wire | None:
    bare = path.split("?", 1)[0]
    if bare.endswith("/v1/messages") or "/v1/messages/" in bare:
        return "anthropic"
    if bare.endswith("/chat/completions"):
        return "openai"
    if bare.endswith("/responses") or "/responses/" in bare:
        return "openai_responses"
    if _GEMINI.search(bare):
        return "gemini"
    return None


def client_snapshot(flow: http.HTTPFlow) -> http.Request:
    """The request as the client addressed it. In reverse mode mitmproxy has already
    pointed host/port at the placeholder upstream; the client talked to our listener."""
    snap = flow.request.copy()
    if is_reverse(flow):
        host, port = flow.client_conn.sockname[:2]
        snap.data.host, snap.data.port = host, port
        snap.scheme = "https" if flow.client_conn.tls else "http"
    return snap


class InspectorAddon:
    def __init__(self, config: Config) -> None:
        self.config = config

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or flow.metadata.get(meta.CONTROL):
            return
        flow.metadata[meta.CLIENT_REQUEST] = client_snapshot(flow).get_state()
        flow.metadata[meta.LISTENER] = listener_of(flow)
        wire = guess_wire(flow.request.path)
        if wire is not None:
            flow.metadata[meta.CLIENT_WIRE] = wire
            flow.metadata[meta.UPSTREAM_WIRE] = wire
        if is_reverse(flow):
            self._default_route(flow, wire)

    def _default_route(self, flow: http.HTTPFlow, wire: Wire | None) -> None:
        providers = self.config.ccproxy.providers
        found = provider_for_wire(wire, providers) if wire else None
        if found is None:
            what = f"{wire} requests" if wire else f"{flow.request.method} {flow.request.path.split('?')[0]}"
            configured = ", ".join(f"{n} ({p.type})" for n, p in providers.items()) or "none"
            flow.response = error_response(
                wire, 404, f"ccproxy: no provider handles {what} (configured providers: {configured})"
            )
            flow.metadata[meta.ERROR] = "no route"
            return
        name, provider = found
        flow.metadata[meta.PROVIDER] = name
        apply_destination(flow.request, provider, rewrite_path(flow.request.path, wire, provider))
