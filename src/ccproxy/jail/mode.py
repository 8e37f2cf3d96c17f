"""What the daemon needs from the jail: the WireGuard mode spec, keylogs, and a log redaction filter."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from ccproxy.jail.keys import WireGuardKeys, key_path, load_or_create_keys, write_private

TLS_KEYLOG = "tls.keylog"
WG_KEYLOG = "wg.keylog"


def wireguard_mode_spec(state_dir: Path, host: str, port: int, slot: int = 0) -> str:
    """mitmproxy mode string for one jail listener; creates the key file if missing.

    mitmproxy parses `mode[:data][@[host:]port]` with rpartition("@"), so the path may hold ':'.
    """
    load_or_create_keys(state_dir, slot)
    return f"wireguard:{key_path(state_dir, slot)}@{host}:{port}"


def wireguard_mode_specs(state_dir: Path, host: str, base_port: int, slots: int) -> list[str]:
    """One listener per jail slot on consecutive UDP ports: a WireGuard server roams its single peer
    to the latest source address, so two jails sharing a peer key would steal each other's replies."""
    return [wireguard_mode_spec(state_dir, host, base_port + i, i) for i in range(slots)]


def wg_keylog_text(keys: WireGuardKeys) -> str:  # one slot
    """Wireshark's WireGuard key log format (`wg.keylog_file`): one `TYPE = base64` per line.

    Static keys of both ends let Wireshark decrypt the handshakes (peer identities, timestamps);
    transport data additionally needs ephemeral keys, which neither mitmproxy_rs nor wireguard-go export.
    """
    return (
        f"LOCAL_STATIC_PRIVATE_KEY = {keys.server_key}\n"
        f"REMOTE_STATIC_PUBLIC_KEY = {keys.client_public}\n"
        f"LOCAL_STATIC_PRIVATE_KEY = {keys.client_key}\n"
        f"REMOTE_STATIC_PUBLIC_KEY = {keys.server_public}\n"
    )


def enable_keylogs(state_dir: Path, slots: int = 1) -> tuple[Path, Path]:
    """Write wg.keylog and route mitmproxy's TLS secrets (both legs, NSS format) to tls.keylog
    (mitm_compat.set_tls_keylog; skipped, with the start-up warning, where mitmproxy lacks it)."""
    wg_path = state_dir / WG_KEYLOG
    write_private(wg_path, "".join(wg_keylog_text(load_or_create_keys(state_dir, i)) for i in range(slots)))
    tls_path = state_dir / TLS_KEYLOG
    fd = os.open(tls_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    os.chmod(tls_path, 0o600)
    from ccproxy import mitm_compat as compat

    if "keylog" not in compat.self_check(("keylog",)):
        compat.set_tls_keylog(tls_path)
    return tls_path, wg_path


def disable_keylogs() -> None:
    from ccproxy import mitm_compat as compat

    if "keylog" not in compat.self_check(("keylog",)):
        compat.set_tls_keylog(None)


_PRIVATE_KEY_LINE = re.compile(r"(PrivateKey\s*=\s*)\S+")


class RedactPrivateKeys(logging.Filter):
    """mitmproxy logs the full WireGuard client config (private key included) at start-up; mask it."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if "PrivateKey" in msg:
            record.msg = _PRIVATE_KEY_LINE.sub(r"\1(redacted)", msg)
            record.args = None
        return True
