"""Jail test support: a throwaway CA, a loopback TLS upstream (Messages API), a mitmproxy master."""

from __future__ import annotations

import asyncio
import datetime
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CORPUS = Path("/work/shared/corpus/anthropic/anthropic_model_instructions.json")
FALLBACK_MESSAGE = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-3-5-haiku-20241022",
    "content": [{"type": "text", "text": "hello from the fake upstream"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 3, "output_tokens": 5},
}


def messages_response() -> str:
    if CORPUS.exists():
        return str(json.loads(CORPUS.read_text())["response"]["body"])
    return json.dumps(FALLBACK_MESSAGE)


@dataclass
class TestCA:
    ca_pem: Path
    cert_pem: Path
    key_pem: Path


def make_ca(directory: Path, hostnames: list[str]) -> TestCA:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ccproxy jail test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hostnames]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    out = TestCA(directory / "test-ca.pem", directory / "upstream-cert.pem", directory / "upstream-key.pem")
    out.ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    out.cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out.key_pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return out


@dataclass
class Upstream:
    port: int
    received: list[dict[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


def start_upstream(ca: TestCA) -> Upstream:
    """HTTPS on 127.0.0.1: answers /v1/messages with a recorded Messages response, records requests."""
    body = messages_response().encode()
    up = Upstream(port=0)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            data = self.rfile.read(length) if length else b""
            up.received.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": data})
            payload = body if self.path.startswith("/v1/messages") else b'{"ok": true}'
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _answer
        do_POST = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ca.cert_pem, ca.key_pem)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    up.server = server
    up.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return up


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FlowRecorder:
    def __init__(self) -> None:
        self.flows: list[Any] = []
        self.dns: list[Any] = []

    def response(self, flow: Any) -> None:
        self.flows.append(flow)

    def dns_response(self, flow: Any) -> None:
        self.dns.append(flow)


@dataclass
class MitmDaemon:
    """A real mitmproxy master in a thread: the WireGuard listener the jail talks to."""

    confdir: Path
    wg_port: int
    recorder: FlowRecorder
    loop: asyncio.AbstractEventLoop | None = None
    master: Any = None
    thread: threading.Thread | None = None

    @property
    def ca_cert(self) -> Path:
        return self.confdir / "mitmproxy-ca-cert.pem"

    def stop(self) -> None:
        if self.loop and self.master:
            self.loop.call_soon_threadsafe(self.master.shutdown)
        if self.thread:
            self.thread.join(timeout=10)


def start_mitm(confdir: Path, state_dir: Path, resolve: dict[str, str], upstream_ca: Path) -> MitmDaemon:
    from mitmproxy import options
    from mitmproxy.addons import default_addons
    from mitmproxy.master import Master

    from ccproxy.addons.resolve import ResolveOverrides
    from ccproxy.jail.mode import wireguard_mode_spec

    port = free_udp_port()
    d = MitmDaemon(confdir=confdir, wg_port=port, recorder=FlowRecorder())
    started = threading.Event()
    errors: list[BaseException] = []

    async def main() -> None:
        opts = options.Options()
        d.master = Master(opts)
        d.loop = asyncio.get_running_loop()
        # ResolveOverrides before the defaults: it must answer pinned names before DnsResolver.
        d.master.addons.add(ResolveOverrides(resolve), *default_addons(), d.recorder)
        opts.update(
            confdir=str(confdir),
            mode=[wireguard_mode_spec(state_dir, "127.0.0.1", port)],
            ssl_verify_upstream_trusted_ca=str(upstream_ca),
            # Any name that is not pinned fails against a closed loopback port instead of real DNS.
            dns_name_servers=["127.0.0.1"],
            dns_use_hosts_file=False,
            # As the daemon does: upstream connects happen per request, after SNI and Host are known.
            connection_strategy="lazy",
        )
        started.set()
        await d.master.run()

    def target() -> None:
        try:
            asyncio.run(main())
        except BaseException as e:  # surfaced by the fixture
            errors.append(e)
            started.set()

    d.thread = threading.Thread(target=target, daemon=True)
    d.thread.start()
    started.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not errors:
        # Ask the master rather than probing the port: a probe bind could race mitmproxy's own.
        ps = d.master.addons.get("proxyserver") if d.master else None
        if d.ca_cert.exists() and ps is not None and any(s.is_running for s in ps.servers):
            return d
        time.sleep(0.05)
    if not errors:
        d.stop()
    raise RuntimeError(f"mitmproxy did not come up: {errors}")
