"""A small Chrome DevTools Protocol client: headless chromium, one page, evaluate/navigate/screenshot.

Chromium resolves no name (every lookup but 127.0.0.1/localhost fails) and runs its
background services off: the page may reach only the loopback daemon.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import websockets

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SKIP_REASON = "chromium not installed (apt-get install chromium)"


class CdpError(RuntimeError):
    pass


class Page:
    def __init__(self, ws: Any, session: str, browser: Browser) -> None:
        self.ws = ws
        self.session = session
        self.browser = browser

    async def send(self, method: str, **params: Any) -> Any:
        return await self.browser.send(method, session=self.session, **params)

    async def evaluate(self, expression: str, timeout: float = 60.0) -> Any:
        """The value of `expression` (awaited when it is a promise); a thrown error fails."""
        result = await asyncio.wait_for(
            self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True), timeout
        )
        if "exceptionDetails" in result:
            raise CdpError(json.dumps(result["exceptionDetails"])[:2000])
        return result["result"].get("value")

    async def navigate(self, url: str) -> None:
        loaded = self.browser.expect("Page.loadEventFired", self.session)
        await self.send("Page.navigate", url=url)
        await asyncio.wait_for(loaded, 60)

    async def wait_for(self, condition: str, timeout: float = 60.0) -> Any:
        """Resolve when the JS `condition` is truthy: checked at once and on every DOM mutation."""
        script = f"""new Promise((resolve) => {{
            const check = () => {{ const v = ({condition}); if (v) {{ obs.disconnect(); resolve(v); }} }};
            const obs = new MutationObserver(check);
            obs.observe(document, {{subtree: true, childList: true, attributes: true, characterData: true}});
            check();
        }})"""
        return await self.evaluate(script, timeout)

    async def screenshot(self, path: Path) -> None:
        metrics = await self.send("Page.getLayoutMetrics")
        height = min(int(metrics["cssContentSize"]["height"]) + 20, 4000)
        shot = await self.send(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1},
        )
        path.write_bytes(base64.b64decode(shot["data"]))


class Browser:
    def __init__(self, profile: Path) -> None:
        self.profile = profile
        self.proc: asyncio.subprocess.Process | None = None
        self.ws: Any = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._waiters: list[tuple[str, str | None, asyncio.Future[Any]]] = []
        self.events: list[dict[str, Any]] = []  # console messages, CSP reports, exceptions
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> Browser:
        assert CHROMIUM is not None, SKIP_REASON
        self.proc = await asyncio.create_subprocess_exec(
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
            "--remote-debugging-port=0",
            "--window-size=1280,900",
            f"--user-data-dir={self.profile}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self.proc.stderr is not None
        url = None
        while url is None:
            line = await asyncio.wait_for(self.proc.stderr.readline(), 60)
            if not line:
                raise CdpError("chromium exited before it opened the DevTools port")
            text = line.decode(errors="replace").strip()
            if text.startswith("DevTools listening on "):
                url = text.removeprefix("DevTools listening on ")
        self._drain = asyncio.ensure_future(self._drain_stderr())
        self.ws = await websockets.connect(url, max_size=64 * 1024 * 1024)
        self._reader = asyncio.ensure_future(self._read())
        return self

    async def _drain_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while await self.proc.stderr.readline():
            pass

    async def _read(self) -> None:
        async for raw in self.ws:
            msg = json.loads(raw)
            if "id" in msg:
                fut = self._pending.pop(msg["id"], None)
                if fut is not None and not fut.done():
                    if "error" in msg:
                        fut.set_exception(CdpError(json.dumps(msg["error"])))
                    else:
                        fut.set_result(msg.get("result", {}))
                continue
            method = msg.get("method", "")
            if method in ("Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded"):
                self.events.append(msg)
            for waiter in list(self._waiters):
                name, session, fut = waiter
                if name == method and (session is None or msg.get("sessionId") == session) and not fut.done():
                    fut.set_result(msg.get("params", {}))
                    self._waiters.remove(waiter)

    def expect(self, method: str, session: str | None = None) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append((method, session, fut))
        return fut

    async def send(self, method: str, session: str | None = None, **params: Any) -> Any:
        mid = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[mid] = fut
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params}
        if session is not None:
            msg["sessionId"] = session
        await self.ws.send(json.dumps(msg))
        return await asyncio.wait_for(fut, 90)

    async def new_page(self) -> Page:
        target = await self.send("Target.createTarget", url="about:blank")
        attached = await self.send("Target.attachToTarget", targetId=target["targetId"], flatten=True)
        page = Page(self.ws, attached["sessionId"], self)
        for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
            await page.send(domain)
        await page.send("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
        return page

    def messages(self) -> list[str]:
        """Console text, exceptions and log entries (CSP violations land here)."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Log.entryAdded":
                out.append(p["entry"].get("text", ""))
            elif e["method"] == "Runtime.exceptionThrown":
                out.append(json.dumps(p.get("exceptionDetails", {}))[:500])
            else:
                out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        return out

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.send("Browser.close")
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
