"""host[:port] values in the config (provider hosts, inspector.resolve targets): pure checks."""

from __future__ import annotations

import ipaddress
import re

# RFC 1123 labels; "_" is tolerated (some internal names use it).
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*\.?$")


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(_HOSTNAME.match(host)) and len(host) <= 253


def split_hostport(value: str) -> tuple[str, int | None]:
    """ "name", "name:port", "1.2.3.4:port", "::1", "[::1]" or "[::1]:port" -> (host, port or None).

    ValueError says what is wrong, without the key path (the caller's error adds it)."""
    text = value.strip()
    if not text:
        raise ValueError("empty address (expected host[:port])")
    port_s: str | None = None
    if text.startswith("["):
        host, close, rest = text[1:].partition("]")
        if not close or (rest and not rest.startswith(":")):
            raise ValueError(f"invalid address {value!r} (expected host[:port], IPv6 as [addr]:port)")
        if rest:
            port_s = rest[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"invalid IPv6 address {host!r} in {value!r}") from None
    elif text.count(":") == 1:
        host, port_s = text.split(":")
    else:
        host = text
    if not host:
        raise ValueError(f"empty address in {value!r} (expected host[:port])")
    if not _valid_host(host):
        raise ValueError(f"invalid address {value!r} (expected host[:port], IPv6 as [addr]:port)")
    if port_s is None:
        return host, None
    if not port_s.isdigit() or not 0 < int(port_s) < 65536:
        raise ValueError(f"invalid port {port_s!r} in {value!r} (1-65535)")
    return host, int(port_s)


def check_hostport(value: str) -> str:
    """Pydantic after-validator: the value unchanged when split_hostport accepts it."""
    split_hostport(value)
    return value
