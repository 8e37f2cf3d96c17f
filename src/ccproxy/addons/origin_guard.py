"""OriginGuardAddon: a request on the reverse listener that a web page sent (a foreign
`Origin`) is refused before anything routes it or injects a credential.

Browsers let any page send "simple" cross-origin POSTs (text/plain bodies, keys in the
query) without a preflight; without this check such a page would spend the user's quota
through credential injection. The 403 speaks the client's wire format.
"""

from __future__ import annotations

import logging

from mitmproxy import http

from ccproxy.access.local import LocalAccess
from ccproxy.addons.inspector import client_snapshot
from ccproxy.addons.listener import is_reverse, listener_of
from ccproxy.flows import meta
from ccproxy.lightllm.detect import routing_wire
from ccproxy.lightllm.error_bodies import error_response

log = logging.getLogger(__name__)


class OriginGuardAddon:
    def __init__(self, access: LocalAccess) -> None:
        self.access = access

    def request(self, flow: http.HTTPFlow) -> None:
        # Jailed programs talk to real hosts, whose own Origin rules apply there.
        if flow.response or flow.error or flow.metadata.get(meta.CONTROL) or not is_reverse(flow):
            return
        req = flow.request
        refusal = self.access.check_origin(req.headers, flow.client_conn.sockname[1])
        if refusal is None:
            return
        log.warning("flow %s: refused %s %s: %s", flow.id, req.method, req.path.split("?", 1)[0], refusal.message)
        # Recorded like any flow (a refused page is worth seeing), as the client addressed it.
        flow.metadata[meta.CLIENT_REQUEST] = client_snapshot(flow).get_state()
        flow.metadata[meta.LISTENER] = listener_of(flow)
        flow.metadata[meta.ERROR] = refusal.message
        flow.response = error_response(routing_wire(req.method, req.path, req.headers), refusal.status, refusal.message)
