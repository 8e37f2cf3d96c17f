"""inspector.resolve parsed: pinned host names and the synthetic address the jail's DNS answers.

A DNS answer of 127.0.0.1 inside the jail would point at the jail's own loopback, and a DNS
answer carries no port: so each pinned host gets a stable address from the benchmarking range
198.18.0.0/15 (RFC 2544, never routed), which `server_connect` maps to the configured target.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from ccproxy.config.addresses import split_hostport

SYNTHETIC_NET = ipaddress.ip_network("198.18.0.0/15")


@dataclass(frozen=True)
class Override:
    host: str
    address: str
    port: int | None  # None: keep the port the client asked for
    synthetic: str  # what the jail's DNS answers for `host`


def parse_target(value: str, where: str) -> tuple[str, int | None]:
    """Parse "addr", "addr:port", "[v6]" or "[v6]:port" (pure; ValueError names the key path)."""
    try:
        return split_hostport(value)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


def parse_resolve(mapping: Mapping[str, str], prefix: str = "inspector.resolve") -> dict[str, Override]:
    out: dict[str, Override] = {}
    for i, (name, value) in enumerate(mapping.items()):
        key = name.strip().lower().rstrip(".")
        if not key:
            raise ValueError(f"{prefix}: empty host name")
        if not isinstance(value, str):
            raise ValueError(f"{prefix}.{name}: expected a string addr[:port], got {type(value).__name__}")
        address, port = parse_target(value, f"{prefix}.{name}")
        out[key] = Override(key, address, port, str(SYNTHETIC_NET[i + 1]))
    return out
