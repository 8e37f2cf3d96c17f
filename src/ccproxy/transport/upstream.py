"""Requests ccproxy itself sends upstream (401 replays, retries, Code Assist prewarm), dialled like
mitmproxy dials: `inspector.resolve` pins honoured, the same trust store, no proxy variables."""

from __future__ import annotations

import asyncio
import importlib
import sys
import time
from types import ModuleType
from typing import Any

from mitmproxy import http

from ccproxy.config.resolve import Override, parse_resolve
from ccproxy.transport.trust import UpstreamTrust

# Hop-by-hop and framing headers: httpx computes its own.
DROP_REQUEST = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "upgrade", "proxy-connection"}
)
DROP_RESPONSE = frozenset({"transfer-encoding", "content-length", "connection", "keep-alive"})


async def _httpx() -> ModuleType:
    """httpx, imported on first use in a worker thread: its import is ~0.4 s of CPU and ~4 MB of
    RSS that a daemon which never replays or retries need not pay."""
    loaded = sys.modules.get("httpx")
    return loaded if loaded is not None else await asyncio.to_thread(importlib.import_module, "httpx")


def send_errors() -> tuple[type[BaseException], ...]:
    """What a failed `UpstreamClient` call raises (httpx's errors), for an except clause: none
    while httpx is not imported yet, as then none can have been raised."""
    httpx = sys.modules.get("httpx")
    return (httpx.HTTPError,) if httpx is not None else ()


class UpstreamClient:
    def __init__(self, resolve: dict[str, str], trust: UpstreamTrust, timeout: float = 600.0) -> None:
        self.overrides: dict[str, Override] = parse_resolve(resolve)
        self.trust = trust
        self.timeout = timeout
        self._verify: Any = None

    @property
    def verify(self) -> Any:
        if self._verify is None:
            self._verify = self.trust.ssl_context()
        return self._verify

    def dial(self, scheme: str, host: str, port: int, path: str) -> tuple[str, list[tuple[str, str]], dict[str, Any]]:
        """(url, extra headers, httpx extensions) for a request to scheme://host:port/path."""
        pinned = self.overrides.get(host.lower().rstrip("."))
        default_port = 443 if scheme == "https" else 80
        authority = host if port == default_port else f"{host}:{port}"
        if pinned is None:
            return f"{scheme}://{authority}{path}", [], {}
        address = f"[{pinned.address}]" if ":" in pinned.address else pinned.address
        url = f"{scheme}://{address}:{pinned.port or port}{path}"
        extensions: dict[str, Any] = {"sni_hostname": host} if scheme == "https" else {}
        return url, [("host", authority)], extensions

    async def send(self, req: http.Request) -> http.Response:
        """Send a mitmproxy request; the answer, read whole, as a mitmproxy response."""
        url, extra, extensions = self.dial(req.scheme, req.host, req.port, req.path)
        headers = [(k, v) for k, v in req.headers.items(multi=True) if k.lower() not in DROP_REQUEST] + extra
        start = time.time()
        httpx = await _httpx()
        async with (
            httpx.AsyncClient(verify=self.verify, timeout=self.timeout, trust_env=False) as client,
            client.stream(req.method, url, headers=headers, content=req.raw_content or b"", extensions=extensions) as r,
        ):
            # Raw bytes: the body keeps its content-encoding, as mitmproxy would have relayed it.
            raw = b"".join([chunk async for chunk in r.aiter_raw()])
            fields = [(k.encode(), v.encode()) for k, v in r.headers.multi_items() if k.lower() not in DROP_RESPONSE]
        fields.append((b"content-length", str(len(raw)).encode()))
        return http.Response(
            http_version=b"HTTP/1.1",
            status_code=r.status_code,
            reason=r.reason_phrase.encode(),
            headers=http.Headers(fields),
            content=raw,
            trailers=None,
            timestamp_start=start,
            timestamp_end=time.time(),
        )

    async def post_json(
        self, scheme: str, host: str, port: int, path: str, headers: dict[str, str], body: Any, timeout: float = 30.0
    ) -> tuple[int, Any]:
        url, extra, extensions = self.dial(scheme, host, port, path)
        hdrs = {**headers, **dict(extra), "content-type": "application/json"}
        httpx = await _httpx()
        async with httpx.AsyncClient(verify=self.verify, timeout=timeout, trust_env=False) as client:
            r = await client.post(url, headers=hdrs, json=body, extensions=extensions)
        try:
            payload = r.json()
        except ValueError:
            payload = None
        return r.status_code, payload
