"""CapacityAddon: an upstream 429/503 (or the policy's codes) -> wait as asked, retry the same
model, then walk the fallback models, within a time budget.

Code Assist flows (the gemini_cli hook) follow `gemini_capacity`; every other provider follows
its own `retry:`. Nothing is retried once a streamed answer began reaching the client: a
streamed response (`flow.response.stream`) is never touched. Retries are sent by us and read
whole; each attempt is recorded on the flow (`ccproxy.attempts`) and the forwarded request
becomes the one that finally answered, so `flows list` shows the final model and
`flows compare` the walk.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from mitmproxy import http

from ccproxy.addons.replay_stream import convert_buffered_stream
from ccproxy.config.models import Config, RetryPolicy
from ccproxy.flows import meta
from ccproxy.providers.retry import model_of_request, requested_delay, with_model
from ccproxy.transport.upstream import UpstreamClient, send_errors

log = logging.getLogger(__name__)

# When the upstream names no delay, the pause before a same-model retry.
DEFAULT_DELAY = 1.0


def plan(policy: RetryPolicy, model: str | None) -> list[tuple[str | None, bool]]:
    """(model, sticky) for every attempt after the first: same model N times, then the fallbacks."""
    steps: list[tuple[str | None, bool]] = [(model, True)] * policy.attempts
    steps += [(m, False) for m in policy.fallback_models if m != model]
    return steps


class CapacityAddon:
    def __init__(self, config: Config, upstream: UpstreamClient) -> None:
        c = config.ccproxy
        self.providers = c.providers
        self.gemini = c.gemini_capacity.policy()
        self.upstream = upstream

    def policy_for(self, flow: http.HTTPFlow) -> RetryPolicy | None:
        provider = self.providers.get(flow.metadata.get(meta.PROVIDER) or "")
        if provider is not None and provider.retry is not None:
            return provider.retry if provider.retry.enabled else None
        if flow.metadata.get(meta.CODE_ASSIST):
            return self.gemini if self.gemini.enabled else None
        return None

    async def response(self, flow: http.HTTPFlow) -> None:
        resp = flow.response
        if resp is None or flow.metadata.get(meta.CONTROL) or flow.metadata.get(meta.ATTEMPTS):
            return
        if resp.stream:
            return  # bytes of this answer already went to the client
        policy = self.policy_for(flow)
        if policy is None or resp.status_code not in policy.codes:
            return
        first_model = model_of_request(flow.request)
        attempts: list[dict[str, Any]] = [{"model": first_model, "status": resp.status_code, "waited_s": 0.0}]
        flow.metadata[meta.ATTEMPTS] = attempts
        waited = 0.0
        for model, sticky in plan(policy, first_model):
            asked = requested_delay(resp)
            delay = (asked if asked is not None else DEFAULT_DELAY) if sticky else 0.0
            if waited + delay > policy.budget_seconds:
                if sticky:
                    continue  # this model asks for longer than the budget allows: try the fallbacks
                break
            if delay:
                await asyncio.sleep(delay)
                waited += delay
            req = flow.request if model == first_model or model is None else with_model(flow.request, model)
            started = time.monotonic()
            try:
                answer = await self.upstream.send(req)
            except send_errors() as e:
                attempts.append({"model": model, "error": f"{type(e).__name__}: {e}", "waited_s": round(delay, 3)})
                log.warning("flow %s: retry on %s failed: %s: %s", flow.id, model, type(e).__name__, e)
                continue
            attempts.append(
                {
                    "model": model,
                    "status": answer.status_code,
                    "waited_s": round(delay, 3),
                    "took_s": round(time.monotonic() - started, 3),
                }
            )
            resp = answer
            if answer.status_code not in policy.codes:
                break
        log.info(
            "flow %s: upstream %s; %d more attempt(s), final %s on %s",
            flow.id,
            attempts[0]["status"],
            len(attempts) - 1,
            resp.status_code,
            attempts[-1].get("model"),
        )
        final_model = next((a["model"] for a in reversed(attempts) if "status" in a), first_model)
        if final_model and final_model != first_model:
            flow.request = with_model(flow.request, final_model)
            info = flow.metadata.get(meta.CODE_ASSIST)
            if isinstance(info, dict):
                info["model"] = final_model
        if resp is not flow.response:
            flow.response = resp
            convert_buffered_stream(flow)
