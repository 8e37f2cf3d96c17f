"""An addon that routes, converts or injects and raises never lets the request through: through
the real mitmproxy engine, the client gets an error in its format and the upstream nothing."""

from __future__ import annotations

import httpx
import pytest
from mitmproxy import http

from ccproxy.addons.failsafe import fail_closed
from tests.lightllm_stream.engine import Script, ScriptedUpstream, Step, running_proxy

pytestmark = pytest.mark.timeout(60)


class Converter:
    """Stands in for any chain addon hit by a bug (the 10,000-deep body's RecursionError)."""

    def __init__(self, hook: str) -> None:
        self.hook = hook

    def _boom(self) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    def request(self, flow: http.HTTPFlow) -> None:
        if self.hook == "request":
            self._boom()
        flow.request.headers["x-converted"] = "1"

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if self.hook == "responseheaders":
            self._boom()


@fail_closed
class GuardedConverter(Converter):
    def request(self, flow: http.HTTPFlow) -> None:
        super().request(flow)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        super().responseheaders(flow)


async def _post(url: str) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False, timeout=20) as c:
        return await c.post(url + "/v1/messages", json={"model": "m", "messages": []})


async def test_unguarded_addon_fails_open_in_plain_mitmproxy() -> None:
    """The defect itself: mitmproxy logs the exception and forwards the unconverted request."""
    up = ScriptedUpstream(Script([Step(b"{}")], content_type="application/json"))
    await up.start()
    async with running_proxy(up.port, extra_addons=(Converter("request"),)) as proxy:
        r = await _post(proxy.url)
    await up.stop()
    assert r.status_code == 200 and len(up.requests) == 1 and b"x-converted" not in up.requests[0]


async def test_exception_in_request_hook_answers_and_never_forwards() -> None:
    up = ScriptedUpstream(Script([Step(b"{}")], content_type="application/json"))
    await up.start()
    async with running_proxy(up.port, extra_addons=(GuardedConverter("request"),)) as proxy:
        r = await _post(proxy.url)
    await up.stop()
    assert up.requests == []
    assert r.status_code == 500 and r.headers["x-ccproxy-error"] == "internal_error"
    body = r.json()  # the tagger says the client speaks Anthropic
    assert body["type"] == "error" and body["error"]["type"] == "api_error"
    assert "RecursionError" in body["error"]["message"]


async def test_exception_in_responseheaders_replaces_the_unconverted_answer() -> None:
    up = ScriptedUpstream(Script([Step(b'{"unconverted": true}')], content_type="application/json"))
    await up.start()
    async with running_proxy(up.port, extra_addons=(GuardedConverter("responseheaders"),)) as proxy:
        r = await _post(proxy.url)
    await up.stop()
    assert r.status_code == 500 and b"unconverted" not in r.content
    assert r.json()["error"]["type"] == "api_error"
