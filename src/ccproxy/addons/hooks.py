"""Runs one stage of the hook pipeline (inbound or outbound) as a mitmproxy addon.

Both stages run on the `request` event; the chain position decides which one
runs first (inbound DAG -> transform -> outbound DAG). Hooks that registered an
`on_response` handler run on the `response` event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from mitmproxy import http

from ccproxy.addons.failsafe import fail_closed
from ccproxy.answers import error_response
from ccproxy.flows import meta
from ccproxy.lightllm.detect import routing_wire
from ccproxy.lightllm.ir import Wire
from ccproxy.pipeline import Pipeline, build_pipelines
from ccproxy.providers.errors import AuthConfigError

log = logging.getLogger(__name__)

AuthErrorHandler = Callable[[http.HTTPFlow, AuthConfigError], None]


def fail_with_auth_error(flow: http.HTTPFlow, err: AuthConfigError) -> None:
    """Answer locally in the client's wire format: the request (and any sentinel) never goes upstream."""
    wire: Wire | None = flow.metadata.get(meta.CLIENT_WIRE) or routing_wire(flow.request.method, flow.request.path)
    flow.metadata[meta.ERROR] = str(err)
    flow.response = error_response(wire, err.status, str(err))


@fail_closed  # routes, converts or injects: an exception answers an error, never forwards
class HookStageAddon:
    def __init__(
        self,
        stage: str,
        pipeline: Pipeline,
        on_auth_error: AuthErrorHandler = fail_with_auth_error,
        services: Mapping[str, Any] | None = None,
    ) -> None:
        # mitmproxy refuses two addons with one name; there is one instance per stage.
        self.name = f"hooks_{stage}"
        self.stage = stage
        self.pipeline = pipeline
        self.on_auth_error = on_auth_error
        self.services = services or {}

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None or flow.error is not None or flow.metadata.get(meta.CONTROL):
            return
        try:
            await self.pipeline.run(flow, self.services)
        except AuthConfigError as e:
            log.error("%s hooks: auth configuration error on flow %s: %s", self.stage, flow.id, e.log_text)
            self.on_auth_error(flow, e)

    async def response(self, flow: http.HTTPFlow) -> None:
        if flow.response is None or flow.metadata.get(meta.CONTROL) or not self.pipeline.response_plan.hooks:
            return
        try:
            await self.pipeline.run_response(flow, self.services)
        except AuthConfigError as e:
            log.error("%s hooks: auth configuration error on response of flow %s: %s", self.stage, flow.id, e.log_text)
            self.on_auth_error(flow, e)


def stage_addons(
    hooks_config: object, services: Mapping[str, Any] | None = None
) -> tuple[HookStageAddon, HookStageAddon]:
    """(inbound, outbound) addons from the `hooks:` config; raises HookConfigError at startup.
    `services` are handed to every hook as `ctx.services`."""
    pipes = build_pipelines(hooks_config)
    return (
        HookStageAddon("inbound", pipes["inbound"], services=services),
        HookStageAddon("outbound", pipes["outbound"], services=services),
    )
