"""Client configuration text for the jail's WireGuard peer (pure functions)."""

from __future__ import annotations

from ccproxy.jail.keys import WireGuardKeys

TUNNEL_ADDRESS = "10.0.0.1/32"
TUNNEL_DNS = "10.0.0.53"
TUNNEL_MTU = 1420
# slirp4netns exposes the host's loopback to the namespace at this address.
SLIRP_HOST = "10.0.2.2"


def client_config(keys: WireGuardKeys, endpoint_host: str, port: int) -> str:
    """wg-quick style config, what `namespace wireguard-config` prints (contains the private key)."""
    return (
        "[Interface]\n"
        f"PrivateKey = {keys.client_key}\n"
        f"Address = {TUNNEL_ADDRESS}\n"
        f"DNS = {TUNNEL_DNS}\n"
        f"MTU = {TUNNEL_MTU}\n"
        "\n"
        "[Peer]\n"
        f"PublicKey = {keys.server_public}\n"
        "AllowedIPs = 0.0.0.0/0\n"
        f"Endpoint = {endpoint_host}:{port}\n"
    )


def setconf_text(keys: WireGuardKeys, port: int) -> str:
    """What `wg setconf` takes inside the jail: no wg-quick keys (Address/DNS/MTU), endpoint via slirp."""
    return (
        "[Interface]\n"
        f"PrivateKey = {keys.client_key}\n"
        "\n"
        "[Peer]\n"
        f"PublicKey = {keys.server_public}\n"
        "AllowedIPs = 0.0.0.0/0\n"
        f"Endpoint = {SLIRP_HOST}:{port}\n"
    )
