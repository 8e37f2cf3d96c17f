"""OriginGuardAddon: a request on the reverse listener that a web page sent (a foreign
`Origin`) is refused before anything routes it or injects a credential.

Browsers let any page send "simple" cross-origin POSTs (text/plain bodies, keys in the
query) without a preflight; without this check such a page would spend the user's quota
through credential injection. The 403 speaks the client's wire format.

Pages of an origin listed in `inspector.allow_origins` get CORS answers: their preflight
is answered here, and their responses carry Access-Control-Allow-Origin, so a browser app
of the user's can call the listener.
"""

from __future__ import annotations

import logging

from mitmproxy import http

from ccproxy.access.local import LocalAccess
from ccproxy.addons.inspector import client_snapshot
from ccproxy.addons.listener import is_reverse, listener_of
from ccproxy.answers import error_response
from ccproxy.flows import meta
from ccproxy.lightllm.detect import routing_wire

log = logging.getLogger(__name__)


_PREFLIGHT_MAX_AGE = "600"


class OriginGuardAddon:
    def __init__(self, access: LocalAccess) -> None:
        self.access = access

    def request(self, flow: http.HTTPFlow) -> None:
        # Jailed programs talk to real hosts, whose own Origin rules apply there.
        if flow.response or flow.error or flow.metadata.get(meta.CONTROL) or not is_reverse(flow):
            return
        req = flow.request
        origin = req.headers.get("origin")
        if req.method == "OPTIONS" and "access-control-request-method" in req.headers and self.access.listed(origin):
            flow.metadata[meta.CONTROL] = True  # a preflight is not an exchange worth recording
            flow.response = http.Response.make(204, b"", self._cors(flow, preflight=True))
            return
        refusal = self.access.origin_refusal(origin, flow.client_conn.sockname[1])
        if refusal is None:
            return
        path = req.path.split("?", 1)[0]
        log.warning("flow %s: refused %s %s: %s", flow.id, req.method, path, refusal.message)
        if path == "/mcp" or path.startswith("/mcp/"):
            # ccproxy's own endpoints are never recorded, refused or not (POST /mcp/notify above all).
            flow.metadata[meta.CONTROL] = True
            flow.response = error_response(None, refusal.status, refusal.message)
            return
        # Recorded like any flow (a refused page is worth seeing), as the client addressed it.
        flow.metadata[meta.CLIENT_REQUEST] = client_snapshot(flow)
        flow.metadata[meta.LISTENER] = listener_of(flow)
        flow.metadata[meta.ERROR] = refusal.message
        flow.response = error_response(routing_wire(req.method, req.path, req.headers), refusal.status, refusal.message)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        self._allow(flow)

    def response(self, flow: http.HTTPFlow) -> None:
        self._allow(flow)  # responses ccproxy made itself never pass responseheaders

    def _allow(self, flow: http.HTTPFlow) -> None:
        if not self.access.allow_origins:  # nothing is listed (the default): no header to look up
            return
        if flow.response is not None and is_reverse(flow) and self.access.listed(flow.request.headers.get("origin")):
            flow.response.headers.update(self._cors(flow, preflight=False))

    @staticmethod
    def _cors(flow: http.HTTPFlow, *, preflight: bool) -> dict[str, str]:
        req = flow.request
        headers = {"access-control-allow-origin": req.headers["origin"]}
        if preflight:
            headers["access-control-allow-methods"] = "GET, POST, DELETE, OPTIONS"
            headers["access-control-allow-headers"] = req.headers.get("access-control-request-headers", "")
            headers["access-control-max-age"] = _PREFLIGHT_MAX_AGE
        else:
            headers["access-control-expose-headers"] = "*"
        return headers
