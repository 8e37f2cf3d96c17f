"""The daemon's WireGuard key pair, persisted where mitmproxy's WireGuard mode reads it.

The file is the JSON conf mitmproxy would otherwise create itself ({"server_key", "client_key"}),
written by us first so the client config is known before the daemon starts.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import mitmproxy_rs

KEY_FILE = "wireguard.conf"


@dataclass(frozen=True)
class WireGuardKeys:
    server_key: str
    client_key: str

    @property
    def server_public(self) -> str:
        return str(mitmproxy_rs.wireguard.pubkey(self.server_key))

    @property
    def client_public(self) -> str:
        return str(mitmproxy_rs.wireguard.pubkey(self.client_key))


def key_path(state_dir: Path, slot: int = 0) -> Path:
    """Slot 0 is mitmproxy's default name; further jail slots (see runner.acquire_slot) get their own pair."""
    return state_dir / (KEY_FILE if slot == 0 else f"wireguard-{slot}.conf")


def parse_keys(text: str, source: str) -> WireGuardKeys:
    """Parse and validate the JSON key file; ValueError names the file."""
    try:
        data = json.loads(text)
        keys = WireGuardKeys(server_key=str(data["server_key"]), client_key=str(data["client_key"]))
        mitmproxy_rs.wireguard.pubkey(keys.server_key)
        mitmproxy_rs.wireguard.pubkey(keys.client_key)
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{source}: invalid WireGuard key file ({type(e).__name__}: {e})") from e
    return keys


def write_private(path: Path, text: str) -> None:
    """Create or replace a file readable by the owner only (no window where it is world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_or_create_keys(state_dir: Path, slot: int = 0) -> WireGuardKeys:
    path = key_path(state_dir, slot)
    if path.exists():
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        return parse_keys(path.read_text(), str(path))
    keys = WireGuardKeys(
        server_key=str(mitmproxy_rs.wireguard.genkey()), client_key=str(mitmproxy_rs.wireguard.genkey())
    )
    write_private(path, json.dumps({"server_key": keys.server_key, "client_key": keys.client_key}, indent=4))
    return keys
