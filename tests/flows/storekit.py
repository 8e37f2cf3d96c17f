"""Cheap real flows for the flow store's tests (no tflow certificates: the writer's cost per
flow is then mostly what ccproxy itself adds)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from mitmproxy import connection, http


def quick_flow(
    path: str = "/v1/messages",
    *,
    host: str = "api.anthropic.com",
    request_body: bytes = b'{"model":"claude-test","messages":[]}',
    response_body: bytes = b'{"usage":{"input_tokens":3,"output_tokens":5}}',
    request_headers: dict[str, str] | None = None,
    response_headers: dict[str, str] | None = None,
    meta: dict[str, Any] | None = None,
    started: float | None = None,
) -> http.HTTPFlow:
    client = connection.Client(peername=("127.0.0.1", 50000), sockname=("127.0.0.1", 4000))
    server = connection.Server(address=(host, 443))
    flow = http.HTTPFlow(client, server)
    flow.id = str(uuid.uuid4())
    flow.request = http.Request.make(
        "POST", f"https://{host}{path}", request_body, {"content-type": "application/json", **(request_headers or {})}
    )
    start = time.time() if started is None else started
    flow.request.timestamp_start, flow.request.timestamp_end = start, start + 0.001
    flow.response = http.Response.make(
        200, response_body, {"content-type": "application/json", **(response_headers or {})}
    )
    flow.response.timestamp_start, flow.response.timestamp_end = start + 0.01, start + 0.02
    flow.metadata.update({"ccproxy.provider": "anthropic", "ccproxy.upstream_wire": "anthropic", **(meta or {})})
    return flow
