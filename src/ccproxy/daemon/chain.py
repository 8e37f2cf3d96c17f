"""The addon chain: ONE ordered list, the order requests pass through.

mitmproxy calls addons in registration order for every event, so this list is
the pipeline. Responses run through the same order; addons that must see the
final response (the recorder) therefore sit at the end.
"""

from __future__ import annotations

from ccproxy.addons.auth import AuthAddon
from ccproxy.addons.control import ControlAddon
from ccproxy.addons.egress import EgressSanitizerAddon
from ccproxy.addons.flow_recorder import FlowRecorderAddon
from ccproxy.addons.inject_auth import InjectAuthAddon
from ccproxy.addons.inspector import InspectorAddon
from ccproxy.addons.sse_relay import SseRelayAddon
from ccproxy.daemon.context import DaemonContext


def build_chain(ctx: DaemonContext) -> list[object]:
    return [
        ControlAddon(ctx),  # /health, /flows: answered here, never proxied or recorded
        InspectorAddon(ctx.config),  # client snapshot, wire format, default route
        InjectAuthAddon(ctx.credentials),  # sentinel key -> provider route + real credential
        SseRelayAddon(),  # event streams relayed as they arrive, copy kept
        AuthAddon(ctx.credentials, ctx.config),  # upstream 401 -> fresh credential -> replay once
        EgressSanitizerAddon(),  # last on the request path: no sentinel, no x-ccproxy-* header leaves
        FlowRecorderAddon(ctx.store),  # last: records the flow as finally forwarded/answered
    ]
