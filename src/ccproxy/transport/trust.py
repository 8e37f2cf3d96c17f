"""Upstream trust: `inspector.upstream_ca` and per-provider `ca_bundle`, added to the system CAs.

mitmproxy verifies upstreams against one CA file, so the daemon hands it a bundle made of the
system CAs (certifi's, as mitmproxy uses by default) plus every configured extra PEM. Our own
outbound calls (401 replays, retries, Code Assist prewarm, curl-cffi) use the same bundle.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path

import certifi

from ccproxy.config.models import Config

BUNDLE_FILE = "upstream-ca-bundle.pem"
_PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"


def _read_pem(raw: str, where: str) -> bytes:
    path = Path(raw).expanduser()
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ValueError(f"{where}: cannot read {path}: {e.strerror or e}") from e
    if _PEM_BEGIN not in data:
        raise ValueError(f"{where}: {path} holds no PEM certificate (expected '-----BEGIN CERTIFICATE-----')")
    try:
        ssl.create_default_context().load_verify_locations(cadata=data.decode("ascii", "replace"))
    except ssl.SSLError as e:
        raise ValueError(f"{where}: {path} is not a usable CA bundle: {e.reason or e}") from e
    return data


@dataclass
class UpstreamTrust:
    """What upstream TLS trusts. `bundle` is None when nothing beyond the system CAs is configured."""

    verify: bool = True
    bundle: Path | None = None
    extra_pems: list[bytes] = field(default_factory=list)

    def ssl_context(self) -> ssl.SSLContext | bool:
        """For httpx: False when verification is off, else system CAs + the extras."""
        if not self.verify:
            return False
        ctx = ssl.create_default_context(cafile=certifi.where())
        for pem in self.extra_pems:
            ctx.load_verify_locations(cadata=pem.decode("ascii", "replace"))
        return ctx

    @property
    def ca_file(self) -> str:
        return str(self.bundle) if self.bundle is not None else certifi.where()


def load_trust(config: Config, write_bundle: bool = True) -> UpstreamTrust:
    """Reads and checks the configured PEMs (ValueError names the key path) and writes the bundle
    into the state directory. Called once, at start-up, before the event loop runs."""
    c = config.ccproxy
    extras: list[bytes] = []
    if c.inspector.upstream_ca:
        extras.append(_read_pem(c.inspector.upstream_ca, "ccproxy.inspector.upstream_ca"))
    for name, p in c.providers.items():
        if p.ca_bundle:
            extras.append(_read_pem(p.ca_bundle, f"ccproxy.providers.{name}.ca_bundle"))
    trust = UpstreamTrust(verify=c.inspector.ssl_verify, extra_pems=extras)
    if extras and write_bundle:
        bundle = config.state_dir / BUNDLE_FILE
        system = Path(certifi.where()).read_bytes()
        bundle.write_bytes(system.rstrip(b"\n") + b"\n" + b"\n".join(e.rstrip(b"\n") + b"\n" for e in extras))
        trust.bundle = bundle
    return trust
