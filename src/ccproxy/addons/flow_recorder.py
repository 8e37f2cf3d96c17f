"""Records every proxied flow into the flow store (control requests excepted)
and writes one log line per finished flow."""

from __future__ import annotations

import asyncio
import logging

from mitmproxy import http

from ccproxy.flows import meta
from ccproxy.flows.serialize import headers_dict
from ccproxy.flows.store import FlowStore

log = logging.getLogger("ccproxy.flows")

# How long a finished flow waits for its commit before the client gets its answer anyway
# (a slow disk must not hold up proxying; the flow stays queued).
COMMIT_WAIT_S = 2.0


def describe(flow: http.HTTPFlow) -> str:
    req = flow.request
    # what the client got: for a body cut short after the upstream's 200, ccproxy's 502
    status = meta.client_status(flow)
    if flow.error:
        outcome = f"{status} error: {flow.error.msg}" if status is not None else f"error: {flow.error.msg}"
    else:
        outcome = str(status) if status is not None else "error: ?"
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

    async def _record(self, flow: http.HTTPFlow) -> None:
        # Only enqueues: the writer thread does the I/O. Waiting for the commit (without
        # blocking the loop) means a client never sees an answer that a crash could lose.
        done = self.store.committed(flow)
        await asyncio.wait({done}, timeout=COMMIT_WAIT_S)

    async def response(self, flow: http.HTTPFlow) -> None:
        if not flow.metadata.get(meta.CONTROL):
            log.info("%s", describe(flow))
            await self._record(flow)

    async def error(self, flow: http.HTTPFlow) -> None:
        # A client that gives up before its request was read never became a flow.
        if flow.metadata.get(meta.CONTROL) or flow.request is None or flow.request.timestamp_start is None:
            return
        if not self.store.is_tracked(flow.id):
            return
        log.warning("%s", describe(flow))
        await self._record(flow)
