"""AuthAddon: a 401 on a flow whose credential ccproxy injected -> get a fresh
credential (OAuth: refresh; command/file: re-read) -> replay the request once.

The replay is sent by us (httpx) and its response replaces the 401, so the client
sees one exchange. A second 401 is the client's answer, unchanged.
"""

from __future__ import annotations

import logging
import time

import httpx
from mitmproxy import http

from ccproxy.addons.failsafe import fail_closed
from ccproxy.addons.replay_stream import convert_buffered_stream
from ccproxy.addons.resolve import parse_resolve
from ccproxy.config.models import Config
from ccproxy.flows import meta
from ccproxy.providers.egress import sanitize_request
from ccproxy.providers.errors import AuthConfigError
from ccproxy.providers.inject import put_credential, slot_for
from ccproxy.providers.registry import CredentialRegistry

log = logging.getLogger(__name__)

AUTH_REPLAYED = meta.AUTH_REPLAYED
# Hop-by-hop and framing headers: httpx computes its own for the replay.
_DROP_REQUEST = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "upgrade", "proxy-connection"}
)
_DROP_RESPONSE = frozenset({"transfer-encoding", "content-length", "connection", "keep-alive"})


@fail_closed  # routes, converts or injects: an exception answers an error, never forwards
class AuthAddon:
    def __init__(self, registry: CredentialRegistry, config: Config, *, timeout: float = 600.0) -> None:
        self.registry = registry
        self.verify = config.ccproxy.inspector.ssl_verify
        self.timeout = timeout
        # inspector.resolve pins hosts for mitmproxy's upstream connections; the replay dials the same.
        self.overrides = parse_resolve(config.ccproxy.inspector.resolve)

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
        except httpx.HTTPError as e:
            # The first 401 stays the answer: better than a synthetic error the client cannot act on.
            log.warning("flow %s: replay after 401 failed: %s: %s", flow.id, type(e).__name__, e)
            return
        convert_buffered_stream(flow)

    async def _send(self, req: http.Request) -> http.Response:
        headers = [(k, v) for k, v in req.headers.items(multi=True) if k.lower() not in _DROP_REQUEST]
        url, extensions = req.url, {}
        pinned = self.overrides.get(req.host.lower().rstrip("."))
        if pinned is not None:
            address = f"[{pinned.address}]" if ":" in pinned.address else pinned.address
            url = f"{req.scheme}://{address}:{pinned.port or req.port}{req.path}"
            default_port = 443 if req.scheme == "https" else 80
            headers.append(("host", req.host if req.port == default_port else f"{req.host}:{req.port}"))
            if req.scheme == "https":
                extensions["sni_hostname"] = req.host
        start = time.time()
        async with (
            httpx.AsyncClient(verify=self.verify, timeout=self.timeout, trust_env=False) as client,
            client.stream(req.method, url, headers=headers, content=req.raw_content or b"", extensions=extensions) as r,
        ):
            # Raw bytes: the body keeps its content-encoding, as mitmproxy would have relayed it.
            raw = b"".join([chunk async for chunk in r.aiter_raw()])
            fields = [(k.encode(), v.encode()) for k, v in r.headers.multi_items() if k.lower() not in _DROP_RESPONSE]
        fields.append((b"content-length", str(len(raw)).encode()))
        return http.Response(
            http_version=b"HTTP/1.1",
            status_code=r.status_code,
            reason=r.reason_phrase.encode(),
            headers=http.Headers(fields),
            content=raw,
            trailers=None,
            timestamp_start=start,
            timestamp_end=time.time(),
        )
