"""AuthAddon: a 401 on a flow whose credential ccproxy injected -> get a fresh
credential (OAuth: refresh; command/file: re-read) -> replay the request once.

The replay is sent by us (httpx) and its response replaces the 401, so the client
sees one exchange. A second 401 is the client's answer, unchanged.
"""

from __future__ import annotations

import logging

from mitmproxy import http

from ccproxy.addons.failsafe import fail_closed
from ccproxy.addons.replay_stream import convert_buffered_stream
from ccproxy.config.models import Config
from ccproxy.flows import meta
from ccproxy.providers.egress import sanitize_request
from ccproxy.providers.errors import AuthConfigError
from ccproxy.providers.inject import put_credential, slot_for
from ccproxy.providers.registry import CredentialRegistry
from ccproxy.transport.trust import UpstreamTrust
from ccproxy.transport.upstream import UpstreamClient, send_errors

log = logging.getLogger(__name__)

AUTH_REPLAYED = meta.AUTH_REPLAYED


@fail_closed  # routes, converts or injects: an exception answers an error, never forwards
class AuthAddon:
    def __init__(
        self,
        registry: CredentialRegistry,
        config: Config,
        *,
        timeout: float = 600.0,
        upstream: UpstreamClient | None = None,
    ) -> None:
        self.registry = registry
        # inspector.resolve pins hosts for mitmproxy's upstream connections; the replay dials the same.
        self.upstream = upstream or UpstreamClient(
            config.ccproxy.inspector.resolve, UpstreamTrust(verify=config.ccproxy.inspector.ssl_verify), timeout
        )

    async def response(self, flow: http.HTTPFlow) -> None:
        resp = flow.response
        if resp is None or resp.status_code != 401 or flow.metadata.get(meta.CONTROL):
            return
        if resp.stream:
            return  # already relayed to the client as it arrived: too late to answer differently
        if not flow.metadata.get(meta.CREDENTIAL_INJECTED) or flow.metadata.get(AUTH_REPLAYED):
            return
        name = flow.metadata.get(meta.PROVIDER)
        if not isinstance(name, str):
            return
        provider = self.registry.providers.get(name)
        if provider is None or self.registry.source(name) is None:
            return
        flow.metadata[AUTH_REPLAYED] = True
        header, prefix = slot_for(provider)
        used = flow.request.headers.get(header, "").removeprefix(prefix)
        try:
            cred = await self.registry.resolve(name, rejected=used)
        except AuthConfigError as e:
            log.warning("flow %s: upstream 401 and no fresh credential for %r: %s", flow.id, name, e.log_text)
            return
        if cred.token == used:
            log.warning("flow %s: upstream 401 for %r and its source gave the same credential again", flow.id, name)
            return
        put_credential(flow.request, provider, cred)
        sanitize_request(flow.request)
        log.info("flow %s: upstream 401 for provider %r; replaying once with a fresh credential", flow.id, name)
        try:
            flow.response = await self._send(flow.request)
        except send_errors() as e:
            # The first 401 stays the answer: better than a synthetic error the client cannot act on.
            log.warning("flow %s: replay after 401 failed: %s: %s", flow.id, type(e).__name__, e)
            return
        convert_buffered_stream(flow)

    async def _send(self, req: http.Request) -> http.Response:
        return await self.upstream.send(req)
