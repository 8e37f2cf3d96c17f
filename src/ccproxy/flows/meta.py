"""Keys under which ccproxy keeps per-flow state in `flow.metadata`.

mitmproxy persists metadata in its flow file, so values stay plain data
(str, int, bool, dict, list, bytes).
"""

from __future__ import annotations

from typing import Any

from mitmproxy import http

CLIENT_REQUEST = "ccproxy.client_request"
CLIENT_RESPONSE = "ccproxy.client_response"
# The upstream's own response when flow.response was replaced by a converted one
# (non-streamed transforms); a converted stream keeps upstream's in flow.response instead.
UPSTREAM_RESPONSE = "ccproxy.upstream_response"
# The upstream's response id when a converted answer shows the client an id in its own format.
UPSTREAM_ID = "ccproxy.upstream_id"
PROVIDER = "ccproxy.provider"
SESSION_ID = "ccproxy.session_id"
CLIENT_WIRE = "ccproxy.client_wire"
UPSTREAM_WIRE = "ccproxy.upstream_wire"
TRANSFORM = "ccproxy.transform"
LISTENER = "ccproxy.listener"
CREDENTIAL_INJECTED = "ccproxy.credential_injected"
# Header that carries an injected credential when it is not one of the usual secret headers.
CREDENTIAL_HEADER = "ccproxy.credential_header"
ERROR = "ccproxy.error"
# Facts about a relayed event stream (bytes each way, events, timings), set by the streaming addon.
STREAM = "ccproxy.stream"
# The shape the `shape` hook applied: {"shape": "local:anthropic.mflow", "content_fields": [...], "fresh": [...]}.
SHAPE = "ccproxy.shape"
# Why no provider claimed the request (set by the inspector; answered as 404 unless a
# sentinel key or a transform rule routes the flow later in the chain).
UNROUTED = "ccproxy.unrouted"
# [{"stage", "phase", "hook", "start", "end"}] wall-clock seconds of every hook run (telemetry child spans).
HOOK_TIMINGS = "ccproxy.hook_timings"
# True once the telemetry addon exported the flow's span.
SPAN_SENT = "ccproxy.span_sent"
# MCP events (`POST /mcp/notify`) that inject_mcp_notifications put into this request.
MCP_INJECTED = "ccproxy.mcp_injected"
# Set by the gemini_cli hook on flows it sent to Code Assist: {project, action, session_id};
# their answers come in the `{response: ...}` envelope.
CODE_ASSIST = "ccproxy.code_assist"
# Retry / capacity fallback: one entry per upstream attempt {model, status, waited_s, reason}.
ATTEMPTS = "ccproxy.attempts"
# commitbee_compat: {detected, changes} on CommitBee's requests it adjusted.
COMMITBEE = "ccproxy.commitbee"
# The upstream transport when it is not mitmproxy's own: {"name": "curl_cffi", "profile": ...}.
TRANSPORT = "ccproxy.transport"
# Set on flows answered by ccproxy itself (control endpoints, routing errors): not stored.
CONTROL = "ccproxy.control"
# Hook pipeline: errors of hooks that were logged and skipped; per-request x-ccproxy-hooks overrides.
HOOK_ERRORS = "ccproxy.hook_errors"
HOOK_OVERRIDES = "ccproxy.hook_overrides"
# The auth addon replayed this request once after an upstream 401.
AUTH_REPLAYED = "ccproxy.auth_replayed"
# What the egress sanitizer removed before the request left.
EGRESS_STRIPPED = "ccproxy.egress_stripped"
# (kind, message) of a request refused before its body was read (addons.faults).
REFUSE = "ccproxy.refuse"
# Every key above starts with this; hooks address them as `metadata.<name>`.
PREFIX = "ccproxy."


def client_wire(flow: http.HTTPFlow) -> str | None:
    """The client's wire format, as the inspector classified it (None: not an LLM request)."""
    v = flow.metadata.get(CLIENT_WIRE)
    return v if isinstance(v, str) else None


def upstream_wire(flow: http.HTTPFlow) -> str | None:
    v = flow.metadata.get(UPSTREAM_WIRE)
    return v if isinstance(v, str) else None


def error(flow: http.HTTPFlow) -> str | None:
    v = flow.metadata.get(ERROR)
    return v if isinstance(v, str) else None


def set_error(flow: http.HTTPFlow, message: str) -> None:
    """Record why the flow failed (shown by `flows list`, /flows and the log line)."""
    flow.metadata[ERROR] = message


def _rebuild[M: (http.Request, http.Response)](kind: type[M], state: dict[str, Any]) -> M:
    from ccproxy.mitm_compat import message_from_state  # it imports this module

    return message_from_state(kind, state)


def client_request(flow: http.HTTPFlow) -> http.Request | None:
    """The request as the client sent it, before any hook or transform."""
    state = flow.metadata.get(CLIENT_REQUEST)
    return _rebuild(http.Request, state) if state else None


def client_request_line(flow: http.HTTPFlow) -> tuple[str, str, http.Headers]:
    """Method, path and headers of the request as the client sent it, read from the snapshot
    without building a Request (a Request validates every field: `client_request` costs ~10x)."""
    state = flow.metadata.get(CLIENT_REQUEST)
    if not state:
        return flow.request.method, flow.request.path, flow.request.headers
    method = state["method"].decode("utf-8", "surrogateescape").upper()  # as Request.method
    return method, state["path"].decode("utf-8", "surrogateescape"), http.Headers(state["headers"])


def client_request_content(flow: http.HTTPFlow) -> bytes | None:
    """The body the client sent, decoded (`client_request(flow).content`), read from the snapshot:
    a Request is built only when the body is content-encoded."""
    state = flow.metadata.get(CLIENT_REQUEST)
    if not state:
        return flow.request.content
    if any(name.lower() == b"content-encoding" for name, _ in state["headers"]):
        snap = client_request(flow)
        return snap.content if snap is not None else None
    content: bytes | None = state["content"]
    return content


def upstream_response(flow: http.HTTPFlow) -> http.Response | None:
    """The response as the provider sent it, before any conversion."""
    state = flow.metadata.get(UPSTREAM_RESPONSE)
    return _rebuild(http.Response, state) if state else flow.response


def client_response(flow: http.HTTPFlow) -> http.Response | None:
    """The response the client received: the converted one when it differs from upstream's."""
    state = flow.metadata.get(CLIENT_RESPONSE)
    if state:
        return _rebuild(http.Response, state)
    return flow.response


def client_status(flow: http.HTTPFlow) -> int | None:
    """The status the client received (ccproxy's own answer to a fault, not the upstream's 200)."""
    state = flow.metadata.get(CLIENT_RESPONSE)
    if state and isinstance(state.get("status_code"), int):
        return int(state["status_code"])
    return flow.response.status_code if flow.response else None


def summary(flow: http.HTTPFlow) -> dict[str, Any]:
    md = flow.metadata
    return {
        "provider": md.get(PROVIDER),
        "session_id": md.get(SESSION_ID),
        "client_wire": md.get(CLIENT_WIRE),
        "upstream_wire": md.get(UPSTREAM_WIRE),
        "transform": md.get(TRANSFORM),
        "mcp_injected": md.get(MCP_INJECTED),
        "attempts": md.get(ATTEMPTS),
        "code_assist": md.get(CODE_ASSIST),
        "transport": md.get(TRANSPORT),
        "shape": md.get(SHAPE),
        "stream": md.get(STREAM),  # the viewer's stream timeline (first byte, duration, events)
    }
