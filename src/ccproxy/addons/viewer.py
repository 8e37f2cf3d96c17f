"""The conversation viewer on the reverse (proxy) listener: /ui/ and its small JSON API.

Access is the local-surface policy (ccproxy.access.local): a loopback Host with the
listener's port, no foreign Origin, and the viewer key, which `ccproxy ui` (and the start-up
line, and `ccproxy status`) put in the URL as `?token=`. The page trades it for an HttpOnly,
SameSite=Strict cookie scoped to /ui and drops it from the address bar. The key is derived
from the control token, so a URL left in the browser's history cannot reveal or delete flows.

Every /ui request is answered here (never proxied, never recorded); store reads and the turn
model run in a worker thread. `ViewerFeedAddon` sits after the recorder and publishes each
completed flow to the page's event stream.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any

from mitmproxy import http

from ccproxy.access.local import LocalAccess
from ccproxy.addons.context import DaemonContext
from ccproxy.addons.listener import is_reverse
from ccproxy.flows import meta
from ccproxy.flows.query import FlowQuery
from ccproxy.usage.prices import Pricer
from ccproxy.viewer import model
from ccproxy.viewer.index import SessionIndex
from ccproxy.viewer.live import LiveFeed, sse_text
from ccproxy.viewer.page import SECURITY_HEADERS, STATIC_FILES, served_page, static

log = logging.getLogger(__name__)

UI_PATH = "/ui"
COOKIE = "ccproxy_ui"
# How long one event-stream answer waits for a flow, and how soon the browser asks again.
HOLD_S = 20.0
RETRY_MS = 250


def viewer_key(token: str) -> str:
    """The viewer's credential, derived from the control token (it cannot be used as one)."""
    return hmac.new(token.encode(), b"ccproxy viewer", hashlib.sha256).hexdigest()[:43]


def viewer_url(base_url: str, token: str) -> str:
    return f"{base_url}{UI_PATH}/?token={viewer_key(token)}"


def _cookie(headers: http.Headers) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    for value in headers.get_all("cookie"):
        try:
            jar.load(value)
        except CookieError:
            continue
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None else None


def _answer(status: int, body: bytes, ctype: str, extra: Mapping[str, str] | None = None) -> http.Response:
    return http.Response.make(status, body, {**SECURITY_HEADERS, "content-type": ctype, **(extra or {})})


def _json(status: int, payload: Any) -> http.Response:
    return _answer(status, json.dumps(payload, ensure_ascii=False).encode(), "application/json; charset=utf-8")


def _refused(status: int, message: str) -> http.Response:
    return _answer(status, (message + "\n").encode(), "text/plain; charset=utf-8")


class ViewerAddon:
    def __init__(self, ctx: DaemonContext, feed: LiveFeed) -> None:
        self.ctx = ctx
        self.feed = feed
        self.pricer = Pricer(ctx.config.ccproxy.usage.prices)
        self.index = SessionIndex(ctx.store)
        for name in STATIC_FILES:  # read from the package now, not on the event loop later
            static(name)

    @property
    def access(self) -> LocalAccess:
        return self.ctx.access  # replaced by the daemon after construction (its token on disk)

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or not is_reverse(flow):
            return
        path = flow.request.path.split("?", 1)[0]
        if path != UI_PATH and not path.startswith(UI_PATH + "/"):
            return
        flow.metadata[meta.CONTROL] = True  # claimed: never routed, recorded or shown in /flows
        flow.response = await self._answer(flow, path)

    def _refusal(self, flow: http.HTTPFlow, *, page: bool) -> http.Response | None:
        req = flow.request
        port = flow.client_conn.sockname[1]
        if not self.access.host_ok(req.host_header, port):
            return _refused(403, f"ccproxy: the viewer answers only a loopback Host with port {port}")
        refusal = self.access.check_origin(req.headers, port)
        if refusal is not None:
            return _refused(refusal.status, refusal.message)
        # A page of another site may embed or navigate to /ui (no Origin on a GET): the
        # browser says so in Sec-Fetch-Site, and only our own pages (or the user) may read.
        site = req.headers.get("sec-fetch-site")
        if site not in (None, "same-origin", "none") and not page:
            return _refused(403, f"ccproxy: cross-site request refused (Sec-Fetch-Site: {site})")
        return None

    def _authorized(self, req: http.Request) -> bool:
        key = viewer_key(self.access.token)
        given = _cookie(req.headers) or ""
        return hmac.compare_digest(given.encode(), key.encode()) or self.access.token_ok(req.headers)

    async def _answer(self, flow: http.HTTPFlow, path: str) -> http.Response:
        req = flow.request
        name = path.removeprefix(UI_PATH + "/")
        if req.method not in ("GET", "HEAD"):
            return _refused(405, f"ccproxy: {req.method} not allowed on {path}")
        refusal = self._refusal(flow, page=name in ("", "index.html"))
        if refusal is not None:
            return refusal
        if name in STATIC_FILES:  # our own code, nothing captured: no key needed
            return _answer(200, static(name), STATIC_FILES[name])
        given = req.query.get("token")
        if given is not None and path.startswith(UI_PATH):
            if not hmac.compare_digest(given.encode(), viewer_key(self.access.token).encode()):
                return _refused(401, "ccproxy: wrong viewer token (open the URL `ccproxy ui` prints)")
            cookie = f"{COOKIE}={viewer_key(self.access.token)}; Path={UI_PATH}; HttpOnly; SameSite=Strict"
            return _answer(303, b"", "text/plain", {"location": f"{UI_PATH}/", "set-cookie": cookie})
        if not self._authorized(req):
            return _refused(401, "ccproxy: the viewer needs its key: open the URL `ccproxy ui` prints")
        if path == UI_PATH:
            return _answer(308, b"", "text/plain", {"location": f"{UI_PATH}/"})
        if name in ("", "index.html"):
            return _answer(200, served_page(), "text/html; charset=utf-8")
        if name == "api/events":
            return await self._events(req)
        if name == "api/sessions":
            rows = await asyncio.to_thread(self._sessions)
            return _json(200, rows)
        if name == "api/session":
            key = req.query.get("key")
            if not key:
                return _json(400, {"error": "key: missing (a session key from /ui/api/sessions)"})
            conv = await asyncio.to_thread(self._conversation, key)
            return _json(200, conv) if conv is not None else _json(404, {"error": f"no session {key!r}"})
        if name == "api/raw":
            fid = req.query.get("id") or ""
            raw = await asyncio.to_thread(self._raw, fid)
            return _json(200, raw) if raw is not None else _json(404, {"error": f"no flow {fid!r}"})
        return _json(404, {"error": f"no viewer page {path!r}"})

    # -- worker-thread reads --------------------------------------------------------------------

    def _price(self, *args: Any) -> Any:
        return self.pricer.price(*args)

    def _sessions(self) -> list[dict[str, Any]]:
        return self.index.session_rows(self._price)

    def _conversation(self, key: str) -> dict[str, Any] | None:
        conv = self.index.conversation(key)
        return model.conversation_view(conv, price=self._price) if conv is not None else None

    def _raw(self, fid: str) -> dict[str, Any] | None:
        page = self.ctx.store.json_page(FlowQuery(ids=(fid,)), bodies=True) if fid else None
        flows = json.loads(page.text) if page is not None else []
        return model.raw_view(flows[0]) if flows else None

    async def _events(self, req: http.Request) -> http.Response:
        last = req.headers.get("last-event-id")
        if last is None or not last.strip().isdigit():
            events, cursor = [], self.feed.seq  # a new page starts from now
        else:
            events = await self.feed.wait_after(int(last), HOLD_S, alive=lambda: self.ctx.ready)
            cursor = int(last) if not events else events[-1].seq
        text = sse_text(events, RETRY_MS, cursor)
        return _answer(200, text.encode(), "text/event-stream; charset=utf-8")


class ViewerFeedAddon:
    """After the recorder: every completed proxied flow becomes an event for open pages."""

    def __init__(self, feed: LiveFeed) -> None:
        self.feed = feed

    def response(self, flow: http.HTTPFlow) -> None:
        if not flow.metadata.get(meta.CONTROL):
            self.feed.publish(flow.id)

    def error(self, flow: http.HTTPFlow) -> None:
        if not flow.metadata.get(meta.CONTROL) and flow.request is not None:
            self.feed.publish(flow.id)
