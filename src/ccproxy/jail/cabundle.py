"""The jailed command's trust store: the mitmproxy CA appended to the system CAs."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path

CA_ENV_VARS = ("SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
# The jail captures at the network layer; a proxy variable would send traffic somewhere else.
PROXY_ENV_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy", "grpc_proxy")

# Tried in order when Python's default verify paths name nothing readable.
SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
)


def system_ca_file() -> Path | None:
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, *SYSTEM_BUNDLES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def bundle_text(mitm_ca_pem: str, system_pem: str) -> str:
    parts = [system_pem.rstrip("\n"), "# ccproxy: mitmproxy CA", mitm_ca_pem.strip("\n")]
    return "\n".join(p for p in parts if p) + "\n"


def write_bundle(mitm_ca: Path, out: Path) -> Path:
    system = system_ca_file()
    system_pem = system.read_text() if system else ""
    out.write_text(bundle_text(mitm_ca.read_text(), system_pem))
    return out


def child_env(base: Mapping[str, str], bundle: Path) -> dict[str, str]:
    """The jailed command's environment: CA variables set, every proxy variable removed."""
    env = {k: v for k, v in base.items() if k.lower() not in PROXY_ENV_VARS}
    for var in CA_ENV_VARS:
        env[var] = str(bundle)
    return env
