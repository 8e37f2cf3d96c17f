"""Answers requests that nothing routed: no default provider for their format, no
sentinel key, no transform rule. The error speaks the wire format of the request's path."""

from __future__ import annotations

from mitmproxy import http

from ccproxy.addons.failsafe import fail_closed
from ccproxy.answers import error_response
from ccproxy.flows import meta


@fail_closed  # routes, converts or injects: an exception answers an error, never forwards
class UnroutedAddon:
    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or flow.metadata.get(meta.CONTROL):
            return
        message = flow.metadata.get(meta.UNROUTED)
        if message and not flow.metadata.get(meta.PROVIDER):
            flow.metadata[meta.ERROR] = message
            flow.response = error_response(flow.metadata.get(meta.CLIENT_WIRE), 404, message)
