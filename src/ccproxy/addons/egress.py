"""EgressSanitizerAddon: the last word on every request before it leaves.

Whatever a hook, transform or bug left behind, no sentinel key and no x-ccproxy-*
header reaches a provider (or any host a jailed program talks to).
"""

from __future__ import annotations

import logging

from mitmproxy import http

from ccproxy.addons.failsafe import fail_closed
from ccproxy.flows import meta
from ccproxy.providers.egress import sanitize_request

log = logging.getLogger(__name__)

EGRESS_STRIPPED = meta.EGRESS_STRIPPED


@fail_closed  # routes, converts or injects: an exception answers an error, never forwards
class EgressSanitizerAddon:
    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or flow.metadata.get(meta.CONTROL):
            return
        removed = sanitize_request(flow.request)
        if removed:
            flow.metadata[EGRESS_STRIPPED] = removed
            log.warning("egress: stripped %s from flow %s to %s", ", ".join(removed), flow.id, flow.request.host)
