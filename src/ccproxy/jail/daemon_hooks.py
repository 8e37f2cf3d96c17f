"""Everything the daemon does for the jail, in one place: listener spec, resolve addon, keylogs, log redaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ccproxy.addons.resolve import ResolveOverrides
from ccproxy.jail.mode import RedactPrivateKeys, enable_keylogs, wireguard_mode_specs
from ccproxy.jail.slots import jail_slots

if TYPE_CHECKING:
    from ccproxy.config import Config

# mitmproxy logs the whole client config (private key included) when the WireGuard server starts.
MITM_WG_LOGGER = "mitmproxy.proxy.mode_servers"


@dataclass
class JailListener:
    modes: dict[str, str]  # mitmproxy mode spec -> listener name ("wireguard", "wireguard-1", ...)
    resolve: ResolveOverrides  # add BEFORE mitmproxy's DnsResolver


def prepare_jail_listener(config: Config) -> JailListener:
    """Call once while building the master. ValueError names the bad inspector.resolve key."""
    c = config.ccproxy
    resolve = ResolveOverrides(c.inspector.resolve)
    logging.getLogger(MITM_WG_LOGGER).addFilter(RedactPrivateKeys())
    slots = jail_slots(config)
    if c.inspector.keylog:
        enable_keylogs(config.state_dir, slots)
    modes: dict[str, str] = {}
    if c.inspector.wireguard:
        specs = wireguard_mode_specs(config.state_dir, c.host, c.inspector.wireguard_port, slots)
        modes = {spec: "wireguard" if i == 0 else f"wireguard-{i}" for i, spec in enumerate(specs)}
    return JailListener(modes=modes, resolve=resolve)
