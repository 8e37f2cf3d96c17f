"""Runs one stage of the hook pipeline (inbound or outbound) as a mitmproxy addon.

Both stages run on the `request` event; the chain position decides which one
runs first (inbound DAG -> transform -> outbound DAG). Hooks that registered an
`on_response` handler run on the `response` event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from mitmproxy import http

from ccproxy.pipeline import Pipeline
from ccproxy.providers.errors import AuthConfigError

log = logging.getLogger("ccproxy.addons.hooks")

AuthErrorHandler = Callable[[http.HTTPFlow, AuthConfigError], None]


def wire_of(flow: http.HTTPFlow) -> str:
    """The client's wire format: the inspector's classification, else a guess from the path."""
    wire = flow.metadata.get("ccproxy.client_wire")
    if isinstance(wire, str):
        return wire
    path = flow.request.path
    if "/messages" in path:
        return "anthropic"
    if "/responses" in path:
        return "openai_responses"
    if ":generateContent" in path or ":streamGenerateContent" in path:
        return "gemini"
    return "openai"


def error_body(wire: str, status: int, message: str) -> dict[str, object]:
    """An error envelope the client's SDK can parse."""
    kind = "authentication_error" if status == 401 else "api_error"
    if wire == "anthropic":
        return {"type": "error", "error": {"type": kind, "message": message}}
    if wire == "gemini":
        code = "UNAUTHENTICATED" if status == 401 else "UNAVAILABLE"
        return {"error": {"code": status, "message": message, "status": code}}
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def fail_with_auth_error(flow: http.HTTPFlow, err: AuthConfigError) -> None:
    """Answer locally: the request (and any sentinel key in it) never goes upstream."""
    message = str(err)
    flow.metadata["ccproxy.error"] = message
    flow.response = http.Response.make(
        err.status,
        json.dumps(error_body(wire_of(flow), err.status, message)).encode(),
        {"content-type": "application/json"},
    )


class HookStageAddon:
    def __init__(
        self, stage: str, pipeline: Pipeline, on_auth_error: AuthErrorHandler = fail_with_auth_error
    ) -> None:
        # mitmproxy refuses two addons with one name; there is one instance per stage.
        self.name = f"hooks_{stage}"
        self.stage = stage
        self.pipeline = pipeline
        self.on_auth_error = on_auth_error

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None or flow.error is not None:
            return
        try:
            await self.pipeline.run(flow)
        except AuthConfigError as e:
            log.error("%s hooks: auth configuration error on flow %s: %s", self.stage, flow.id, e)
            self.on_auth_error(flow, e)

    async def response(self, flow: http.HTTPFlow) -> None:
        if flow.response is None or not self.pipeline.response_plan.hooks:
            return
        try:
            await self.pipeline.run_response(flow)
        except AuthConfigError as e:
            log.error("%s hooks: auth configuration error on response of flow %s: %s", self.stage, flow.id, e)
            self.on_auth_error(flow, e)
