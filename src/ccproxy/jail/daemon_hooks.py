"""Everything the daemon does for the jail, in one place: listener spec, resolve addon, keylogs, log redaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ccproxy.addons.resolve import ResolveOverrides
from ccproxy.jail.mode import RedactPrivateKeys, enable_keylogs, wireguard_mode_spec

if TYPE_CHECKING:
    from ccproxy.config import Config

# mitmproxy logs the whole client config (private key included) when the WireGuard server starts.
MITM_WG_LOGGER = "mitmproxy.proxy.mode_servers"


@dataclass
class JailListener:
    mode: str | None  # the mitmproxy mode spec, None when inspector.wireguard is off
    resolve: ResolveOverrides  # add BEFORE mitmproxy's DnsResolver


def prepare_jail_listener(config: Config) -> JailListener:
    """Call once while building the master. ValueError names the bad inspector.resolve key."""
    c = config.ccproxy
    resolve = ResolveOverrides(c.inspector.resolve)
    logging.getLogger(MITM_WG_LOGGER).addFilter(RedactPrivateKeys())
    if c.inspector.keylog:
        enable_keylogs(config.state_dir)
    mode = wireguard_mode_spec(config.state_dir, c.host, c.inspector.wireguard_port) if c.inspector.wireguard else None
    return JailListener(mode=mode, resolve=resolve)
