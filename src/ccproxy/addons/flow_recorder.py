"""Records every proxied flow into the flow store (control requests excepted)."""

from __future__ import annotations

from mitmproxy import http

from ccproxy.flows import meta
from ccproxy.flows.store import FlowStore


class FlowRecorderAddon:
    def __init__(self, store: FlowStore) -> None:
        self.store = store

    def request(self, flow: http.HTTPFlow) -> None:
        if not flow.metadata.get(meta.CONTROL):
            self.store.add(flow)

    def response(self, flow: http.HTTPFlow) -> None:
        if not flow.metadata.get(meta.CONTROL):
            self.store.complete(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        if not flow.metadata.get(meta.CONTROL):
            self.store.complete(flow)
