"""Records every proxied flow into the flow store (control requests excepted)
and writes one log line per finished flow."""

from __future__ import annotations

import logging

from mitmproxy import http

from ccproxy.flows import meta
from ccproxy.flows.serialize import headers_dict
from ccproxy.flows.store import FlowStore

log = logging.getLogger("ccproxy.flows")


def describe(flow: http.HTTPFlow) -> str:
    req = flow.request
    outcome = str(flow.response.status_code) if flow.response else f"error: {flow.error.msg if flow.error else '?'}"
    took = ""
    if flow.response and flow.response.timestamp_end and req.timestamp_start:
        took = f" {(flow.response.timestamp_end - req.timestamp_start) * 1000:.0f} ms"
    provider = flow.metadata.get(meta.PROVIDER) or "-"
    return (
        f"{flow.id[:8]} {req.method} {req.pretty_host}{req.path.split('?')[0]} -> {outcome}{took} provider={provider}"
    )


class FlowRecorderAddon:
    def __init__(self, store: FlowStore) -> None:
        self.store = store

    def request(self, flow: http.HTTPFlow) -> None:
        if not flow.metadata.get(meta.CONTROL):
            self.store.add(flow)
            if log.isEnabledFor(logging.DEBUG):
                # Header values of credentials are redacted before they reach any handler.
                log.debug("%s request headers %s", flow.id[:8], headers_dict(flow.request.headers))

    def response(self, flow: http.HTTPFlow) -> None:
        if not flow.metadata.get(meta.CONTROL):
            self.store.complete(flow)
            log.info("%s", describe(flow))

    def error(self, flow: http.HTTPFlow) -> None:
        # A client that gives up before its request was read never became a flow.
        if self.store.get(flow.id) is not None:
            self.store.complete(flow)
            log.warning("%s", describe(flow))
