"""inspector.resolve: pin host names to addresses (like curl --resolve) for the jail's DNS and all upstreams.

Inside the jail a DNS answer of 127.0.0.1 would point at the jail's own loopback, never the tunnel, and
a DNS answer carries no port. So the jail is answered with a stable synthetic address from the
benchmarking range 198.18.0.0/15 (RFC 2544, never routed) per pinned host, and `server_connect`
maps that address -- or the host name, for the reverse listener -- to the configured address:port.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping

from mitmproxy import dns, http
from mitmproxy.proxy import mode_specs, server_hooks

from ccproxy.config.resolve import Override, parse_resolve
from ccproxy.flows import meta

logger = logging.getLogger(__name__)

LISTENER_KEY = meta.LISTENER  # one key, one module: flows.meta


def is_wireguard(mode: object) -> bool:
    return isinstance(mode, mode_specs.WireGuardMode)


class ResolveOverrides:
    """Must run before mitmproxy's DnsResolver, so pinned names are never looked up for real."""

    def __init__(self, resolve: Mapping[str, str]) -> None:
        self.by_host = parse_resolve(resolve)
        self.by_synthetic = {o.synthetic: o for o in self.by_host.values()}

    def lookup(self, host: str | None) -> Override | None:
        if not host:
            return None
        return self.by_synthetic.get(host) or self.by_host.get(host.lower().rstrip("."))

    def running(self) -> None:
        from mitmproxy import ctx
        from mitmproxy.addons.dns_resolver import DnsResolver

        chain = ctx.master.addons.chain
        mine = next((i for i, a in enumerate(chain) if a is self), None)
        theirs = next((i for i, a in enumerate(chain) if isinstance(a, DnsResolver)), None)
        if mine is not None and theirs is not None and theirs < mine:
            logger.error("ResolveOverrides is added after DnsResolver: pinned names would be resolved for real")

    def dns_request(self, flow: dns.DNSFlow) -> None:
        if flow.response or flow.error or not flow.request.query:
            return
        q = flow.request.question
        if q is None or (o := self.by_host.get(q.name.lower().rstrip("."))) is None:
            return
        answers = []
        if q.type == dns.types.A and q.class_ == dns.classes.IN:
            answers.append(
                dns.ResourceRecord(
                    name=q.name,
                    type=dns.types.A,
                    class_=dns.classes.IN,
                    ttl=dns.ResourceRecord.DEFAULT_TTL,
                    data=ipaddress.ip_address(o.synthetic).packed,
                )
            )
        # AAAA, HTTPS/SVCB and the rest: an empty answer, so nothing is forwarded to a real resolver.
        flow.response = flow.request.succeed(answers)

    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        server = data.server
        if server.address is None:
            return
        host, port = server.address
        o = self.lookup(str(host)) or self.lookup(server.sni)
        if o is not None:
            server.address = (o.address, o.port or port)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        wg = is_wireguard(flow.client_conn.proxy_mode)
        flow.metadata.setdefault(LISTENER_KEY, "wireguard" if wg else "reverse")
        # Transparent flows carry the destination IP in request.host; make pretty_host the real name.
        if wg and not flow.request.host_header and flow.client_conn.sni:
            flow.request.host_header = flow.client_conn.sni
