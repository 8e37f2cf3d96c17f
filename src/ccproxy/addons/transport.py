"""TransportAddon: flows of a provider with `fingerprint_profile` / `transport: curl_cffi` are
sent by curl-cffi (ccproxy.transport.relay) instead of mitmproxy's own client.

On `request` (after the outbound hooks) the flow is pointed at the in-daemon relay; the real
destination rides along in the Host header. On `responseheaders` the request gets its real
destination back, so the recorded flow shows where it went; metadata `ccproxy.transport` says how.
"""

from __future__ import annotations

import logging
from typing import Any

from mitmproxy import http

from ccproxy.config.models import Config
from ccproxy.config.resolve import parse_resolve
from ccproxy.flows import meta
from ccproxy.transport.relay import CurlRelay, Target
from ccproxy.transport.trust import UpstreamTrust

log = logging.getLogger(__name__)


def authority(scheme: str, host: str, port: int) -> str:
    default_port = 443 if scheme == "https" else 80
    return host.lower() if port == default_port else f"{host.lower()}:{port}"


def curl_targets(config: Config) -> dict[str, Target]:
    out: dict[str, Target] = {}
    for p in config.ccproxy.providers.values():
        if p.uses_curl_cffi:
            t = Target(p.scheme, p.hostname, p.port, p.fingerprint_profile)
            out[authority(t.scheme, t.host, t.port)] = t
    return out


class TransportAddon:
    def __init__(self, config: Config, trust: UpstreamTrust) -> None:
        targets = curl_targets(config)
        verify: bool | str = trust.ca_file if trust.verify else False
        resolve = parse_resolve(config.ccproxy.inspector.resolve)
        self.relay: CurlRelay | None = CurlRelay(targets, verify, resolve) if targets else None

    async def running(self) -> None:
        if self.relay is not None and not self.relay.port:
            port = await self.relay.start()
            log.info("curl-cffi transport: relay on 127.0.0.1:%d for %s", port, ", ".join(self.relay.targets))

    async def done(self) -> None:
        if self.relay is not None:
            await self.relay.stop()

    def request(self, flow: http.HTTPFlow) -> None:
        relay = self.relay
        if relay is None or not relay.port or flow.response or flow.error or flow.metadata.get(meta.CONTROL):
            return
        req = flow.request
        key = authority(req.scheme, req.host, req.port)
        target = relay.targets.get(key)
        if target is None:
            return
        info: dict[str, Any] = {
            "name": "curl_cffi",
            "profile": target.profile,
            "destination": {"scheme": req.scheme, "host": req.host, "port": req.port},
        }
        flow.metadata[meta.TRANSPORT] = info
        req.scheme, req.host, req.port = "http", "127.0.0.1", relay.port
        # after the address: setting request.host rewrites the Host header, which names the target
        if req.http_version.startswith(("HTTP/2", "HTTP/3")):
            req.authority = key  # sent as the Host header to the relay (HTTP/1.1)
        else:
            req.headers["host"] = key

    def _restore(self, flow: http.HTTPFlow) -> None:
        info = flow.metadata.get(meta.TRANSPORT)
        dest = info.get("destination") if isinstance(info, dict) else None
        if not isinstance(dest, dict) or flow.request.host != "127.0.0.1":
            return
        req = flow.request
        host_header = req.host_header
        req.scheme, req.host, req.port = dest["scheme"], dest["host"], dest["port"]
        req.host_header = host_header  # the provider's name, as sent, not rewritten by the host setter

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        self._restore(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._restore(flow)
