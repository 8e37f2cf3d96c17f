"""Runs inside a throwaway jail for `namespace doctor`; prints one JSON object (stdlib only).

usage: python -m ccproxy.jail.probe HOST BLOCKED_PORT
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import sys
from typing import Any

PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def check_dns(host: str) -> dict[str, Any]:
    try:
        addrs = sorted({str(a[4][0]) for a in socket.getaddrinfo(host, 443, socket.AF_INET, socket.SOCK_STREAM)})
    except OSError as e:
        # EAI_NONAME: a resolver answered that the name does not exist (the name is wrong, not DNS).
        unknown = isinstance(e, socket.gaierror) and e.errno == socket.EAI_NONAME
        return {"ok": False, "unknown_name": unknown, "detail": f"lookup of {host} failed: {e}"}
    return {"ok": bool(addrs), "detail": ", ".join(addrs)}


def check_tls(host: str) -> dict[str, Any]:
    """A handshake only: with verification against the jail's CA bundle, issued by mitmproxy."""
    ctx = ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE"))
    try:
        with (
            socket.create_connection((host, 443), timeout=5) as raw,
            ctx.wrap_socket(raw, server_hostname=host) as tls,
        ):
            cert = tls.getpeercert() or {}
    except OSError as e:
        return {"ok": False, "tunnel": isinstance(e, ssl.SSLError), "detail": f"{type(e).__name__}: {e}"}
    issuer = " ".join(str(attr[1]) for rdn in cert.get("issuer", ()) for attr in rdn)
    return {"ok": "mitmproxy" in issuer, "tunnel": True, "detail": f"issuer: {issuer}"}


def check_blocked(addr: str, port: int) -> dict[str, Any]:
    """A direct connection that bypasses the tunnel must fail."""
    try:
        with socket.create_connection((addr, port), timeout=2):
            return {"ok": False, "detail": f"connected to {addr}:{port} outside the tunnel"}
    except OSError as e:
        return {"ok": True, "detail": f"{addr}:{port} blocked ({e.strerror or e})"}


def main(argv: list[str]) -> int:
    host, blocked_port = argv[0], int(argv[1])
    dns = check_dns(host)
    if dns["ok"]:
        tls = check_tls(host)
        tunnel = {"ok": bool(tls.get("tunnel")), "detail": "TCP through wg0 to the daemon"}
    else:
        # Without an address there is nothing to connect to: that says nothing about the tunnel.
        tls = {"ok": False, "skipped": True, "detail": f"not probed: {host} did not resolve"}
        tunnel = dict(tls)
    report = {
        "dns": dns,
        "tunnel": tunnel,
        "tls": tls,
        "killswitch_host_loopback": check_blocked("10.0.2.2", blocked_port),
        "killswitch_slirp_dns": check_blocked("10.0.2.3", 53),
        "env": {
            "ok": not [v for v in os.environ if v.lower() in PROXY_VARS] and "SSL_CERT_FILE" in os.environ,
            "detail": "no proxy variables; SSL_CERT_FILE=" + os.environ.get("SSL_CERT_FILE", "(unset)"),
        },
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
