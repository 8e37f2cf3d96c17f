"""ccproxy's own span attribute names: what the OpenTelemetry semantic conventions do not
cover (both sides of a translated flow, stream facts, hook child spans). One place for this
vocabulary; they are span attributes, not flow.metadata keys (those live in flows/meta.py)."""

from __future__ import annotations

CLIENT_MODEL = "ccproxy.client.model"
CLIENT_WIRE = "ccproxy.client.wire"
ERROR_TYPE_CCPROXY = "ccproxy.error"
FLOW_ID = "ccproxy.flow.id"
HOOK_NAME = "ccproxy.hook.name"
HOOK_PHASE = "ccproxy.hook.phase"
HOOK_STAGE = "ccproxy.hook.stage"
LISTENER = "ccproxy.listener"
PROVIDER = "ccproxy.provider"
REQUEST_BODY = "ccproxy.request.body"
RESPONSE_BODY = "ccproxy.response.body"
STREAM = "ccproxy.stream"
STREAM_EVENTS = "ccproxy.stream.events"
STREAM_TIME_TO_FIRST_TOKEN_S = "ccproxy.stream.time_to_first_token_s"
EVENT_TTFT = "ccproxy.time_to_first_token_s"
TRANSFORMED = "ccproxy.transformed"
UPSTREAM_MODEL = "ccproxy.upstream.model"
UPSTREAM_WIRE = "ccproxy.upstream.wire"
