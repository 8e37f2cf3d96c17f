"""The addon chain: ONE ordered list, the order requests pass through.

mitmproxy calls addons in registration order for every event, so this list is
the pipeline. Responses run through the same order; addons that must see the
final response (the recorder) therefore sit at the end.
"""

from __future__ import annotations

from ccproxy.addons.auth import AuthAddon
from ccproxy.addons.capacity import CapacityAddon
from ccproxy.addons.code_assist import CodeAssistAddon
from ccproxy.addons.connections import ConnectionGuardAddon
from ccproxy.addons.context import DaemonContext
from ccproxy.addons.control import ControlAddon
from ccproxy.addons.credentials import CredentialsAddon
from ccproxy.addons.egress import EgressSanitizerAddon
from ccproxy.addons.faults import FaultsAddon
from ccproxy.addons.flow_recorder import FlowRecorderAddon
from ccproxy.addons.hooks import stage_addons
from ccproxy.addons.inspector import InspectorAddon
from ccproxy.addons.mcp_endpoint import McpEndpointAddon
from ccproxy.addons.models_endpoint import ModelsEndpointAddon
from ccproxy.addons.origin_guard import OriginGuardAddon
from ccproxy.addons.streaming import StreamingAddon
from ccproxy.addons.transform import TransformAddon
from ccproxy.addons.transport import TransportAddon
from ccproxy.addons.unrouted import UnroutedAddon
from ccproxy.addons.viewer import ViewerAddon, ViewerFeedAddon
from ccproxy.providers.code_assist import CodeAssistProjects
from ccproxy.providers.inject import route_injector
from ccproxy.shapes.store import ShapeLibrary
from ccproxy.transport.trust import UpstreamTrust
from ccproxy.viewer.live import LiveFeed


def build_chain(ctx: DaemonContext) -> list[object]:
    """Raises HookConfigError (a ValueError) when the hooks config is wrong."""
    services: dict[str, object] = {
        "credentials": ctx.credentials,
        "mcp_notifications": ctx.notifications,
        "code_assist": CodeAssistProjects(ctx.upstream),
    }
    if ctx.config.ccproxy.shaping.enabled:
        services["shapes"] = ShapeLibrary(ctx.config)  # for the `shape` hook
    inbound, outbound = stage_addons(ctx.config.ccproxy.hooks, services=services)
    otel = ctx.config.ccproxy.otel
    telemetry: list[object] = []
    if otel.enabled:  # opentelemetry's SDK is imported only when spans are on
        from ccproxy.telemetry.addon import TelemetryAddon

        telemetry.append(TelemetryAddon(otel, ctx.credentials.secrets))
    viewer_feed = LiveFeed()  # completed flows, for the viewer's open pages
    return [
        # Connection limits (slow-loris, idle keep-alive, the cap) and every fault answered in the
        # client's format: first, they act at `client_connected`/`requestheaders`, before the rest.
        ConnectionGuardAddon(ctx.config, enabled="connections" not in ctx.disabled),
        FaultsAddon(ctx.config, enabled="faults" not in ctx.disabled),
        ControlAddon(ctx),  # /health, /flows: answered here, never proxied or recorded
        ViewerAddon(ctx, viewer_feed),  # /ui/ (the conversation viewer): answered here, never recorded
        OriginGuardAddon(ctx.access),  # a foreign Origin (a web page) is refused before routing or injection
        McpEndpointAddon(ctx),  # /mcp (the MCP server) and POST /mcp/notify: answered here, never recorded
        ModelsEndpointAddon(ctx.config),  # GET /v1/models: synthetic list, answered here
        InspectorAddon(ctx.config),  # client snapshot, wire format, default route
        CredentialsAddon(ctx.credentials),  # credential sources warmed up at start; their values kept out of logs
        # Response-only: upstream 401 -> fresh credential -> replay once. It sits before every addon
        # that rewrites responses so that they (transform, hooks) see the replayed answer.
        AuthAddon(ctx.credentials, ctx.config, upstream=ctx.upstream),
        # Response-only, after the 401 replay: 429/503 -> wait, retry, fallback models (retry:,
        # gemini_capacity); then Code Assist's envelope comes off buffered answers.
        CapacityAddon(ctx.config, ctx.upstream),
        CodeAssistAddon(),
        inbound,  # inbound hook DAG (inject_auth, extract_session_id, ...)
        TransformAddon(ctx.config, route_injector(ctx.credentials)),  # transform rules; lightllm body conversion
        outbound,  # outbound hook DAG (verbose_mode, ...)
        # providers with fingerprint_profile / transport: curl_cffi go out through curl-cffi
        TransportAddon(ctx.config, ctx.trust or UpstreamTrust()),
        UnroutedAddon(),  # 404 in the client's format for what nothing above routed
        # event streams relayed as they arrive, converted across wire formats, faults as error events
        StreamingAddon(idle_timeout=ctx.config.ccproxy.lightllm.stream_idle_timeout),
        EgressSanitizerAddon(),  # last on the request path: no sentinel, no x-ccproxy-* header leaves
        FlowRecorderAddon(ctx.store),  # last: records the flow as finally forwarded/answered
        ViewerFeedAddon(viewer_feed),  # after the commit: the viewer's pages hear of the flow
        # one span per flow from its timestamps, once every addon has answered (telemetry/addon.py)
        *telemetry,
    ]
