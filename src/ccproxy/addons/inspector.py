"""First look at every flow: snapshot the client request, classify its wire format,
and give reverse-listener flows their default route.

Later addons may re-route (inject_auth by sentinel key, transform rules); this is
only the route a request takes when nothing else claims it. A request with no
default route is marked and answered by UnroutedAddon at the end of the request
path, once everything that could route it had its turn.
"""

from __future__ import annotations

import logging
from typing import Any

from mitmproxy import http

from ccproxy.addons.failsafe import fail_closed
from ccproxy.addons.faults import fault_response
from ccproxy.addons.listener import is_reverse, listener_of
from ccproxy.config.models import Config
from ccproxy.flows import meta
from ccproxy.lightllm.detect import routing_wire
from ccproxy.lightllm.ir import Wire
from ccproxy.lightllm.jsonlimits import MAX_JSON_DEPTH, too_deep
from ccproxy.providers.destination import apply_destination, provider_for_wire, rewrite_path

log = logging.getLogger(__name__)


def client_snapshot(flow: http.HTTPFlow) -> dict[str, Any]:
    """The state of the request as the client addressed it. In reverse mode mitmproxy has already
    pointed host/port at the placeholder upstream; the client talked to our listener.
    Patched in the state (a fresh dict) rather than on a copied Request: no second Request
    is built per flow."""
    state: dict[str, Any] = flow.request.get_state()
    if is_reverse(flow):
        state["host"], state["port"] = flow.client_conn.sockname[:2]
        state["scheme"] = b"https" if flow.client_conn.tls else b"http"
    return state


def _json_like(req: http.Request) -> bool:
    # an upload that merely contains many brackets (an image, a tarball) is not refused
    ctype = req.headers.get("content-type", "").lower()
    return "json" in ctype or routing_wire(req.method, req.path, req.headers) is not None


@fail_closed  # routes, converts or injects: an exception answers an error, never forwards
class InspectorAddon:
    def __init__(self, config: Config) -> None:
        self.config = config

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or flow.metadata.get(meta.CONTROL):
            return
        if _json_like(flow.request) and too_deep(flow.request.raw_content or b""):
            # refused before anything parses it: deep nesting exhausts the recursion of parsers
            message = f"ccproxy: request body nests deeper than {MAX_JSON_DEPTH} levels"
            flow.metadata[meta.ERROR] = message
            flow.response = fault_response(flow, "invalid_request", message)
            return
        flow.metadata[meta.CLIENT_REQUEST] = client_snapshot(flow)
        flow.metadata[meta.LISTENER] = listener_of(flow)
        wire = routing_wire(flow.request.method, flow.request.path, flow.request.headers)
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
            # Not answered yet: a sentinel key or a transform rule may still route it.
            flow.metadata[meta.UNROUTED] = f"ccproxy: no provider handles {what} (configured providers: {configured})"
            return
        name, provider = found
        flow.metadata[meta.PROVIDER] = name
        apply_destination(flow.request, provider, rewrite_path(flow.request.path, wire, provider))
