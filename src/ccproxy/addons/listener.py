"""Which listener a flow came through."""

from __future__ import annotations

from mitmproxy import http
from mitmproxy.proxy import mode_specs


def listener_of(flow: http.HTTPFlow) -> str:
    mode = flow.client_conn.proxy_mode
    if isinstance(mode, mode_specs.WireGuardMode):
        return "wireguard"
    if isinstance(mode, mode_specs.ReverseMode):
        return "reverse"
    return mode.type_name


def is_reverse(flow: http.HTTPFlow) -> bool:
    return isinstance(flow.client_conn.proxy_mode, mode_specs.ReverseMode)
