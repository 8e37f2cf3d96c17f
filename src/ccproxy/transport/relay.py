"""The curl-cffi relay: an HTTP/1.1 server on 127.0.0.1 inside the daemon (no extra process).

mitmproxy sends a curl-cffi provider's flows here in plain HTTP instead of to the provider; the
relay sends each request with curl-cffi (the provider's impersonation target: a browser's
TLS and HTTP/2 fingerprint) and relays the answer back chunk by chunk, so streams stay streams
and mitmproxy's flow gets the response as if from the provider: hooks, conversion and
recording see it as usual. curl-cffi adds no browser headers of its own (`default_headers`
off): only the transport is impersonated, never a client identity.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from ccproxy.config.resolve import Override

log = logging.getLogger(__name__)

_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "host",
        # curl-cffi sets its own and decodes the body: the client gets it plain
        "accept-encoding",
    }
)
_MAX_HEAD = 256 * 1024


@dataclass(frozen=True)
class Target:
    """Where a relayed request goes: a provider that asked for curl-cffi."""

    scheme: str
    host: str
    port: int
    profile: str | None


class RelayError(Exception):
    pass


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, str, list[tuple[str, str]]] | None:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError as e:
        raise RelayError("request head too large") from e
    lines = raw.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return method, target, headers


async def _read_body(reader: asyncio.StreamReader, headers: list[tuple[str, str]]) -> bytes:
    h = {k.lower(): v for k, v in headers}
    if "chunked" in h.get("transfer-encoding", "").lower():
        out = bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return bytes(out)
            out += await reader.readexactly(size)
            await reader.readexactly(2)
    length = int(h.get("content-length") or 0)
    return await reader.readexactly(length) if length else b""


class CurlRelay:
    """Targets are keyed by the Host header mitmproxy sends (the provider's authority)."""

    def __init__(
        self, targets: dict[str, Target], verify: bool | str, resolve: dict[str, Override], timeout: float = 600.0
    ) -> None:
        self.targets = targets
        self.verify = verify
        self.resolve = resolve
        self.timeout = timeout
        self.server: asyncio.Server | None = None
        self.port = 0
        self.sent = 0
        # one curl-cffi session per target: its connections are kept alive and reused
        self._sessions: dict[Target, Any] = {}

    async def start(self) -> int:
        # sessions (and curl-cffi's import) now, at start-up: the first request would pay ~1 s
        for t in self.targets.values():
            self._session(t)
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=_MAX_HEAD)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await self.server.wait_closed()
        for session in self._sessions.values():
            with contextlib.suppress(Exception):
                await session.close()
        self._sessions.clear()

    def _session(self, t: Target) -> Any:
        from curl_cffi.requests import AsyncSession

        session = self._sessions.get(t)
        if session is None:
            _port, options = self._dial(t)
            session = self._sessions[t] = AsyncSession(curl_options=options, max_clients=64)
        return session

    def _dial(self, t: Target) -> tuple[int, dict[Any, Any]]:
        """(port to dial, curl options): inspector.resolve pins become curl's --resolve."""
        from curl_cffi import CurlOpt

        pinned = self.resolve.get(t.host.lower())
        if pinned is None:
            return t.port, {}
        # like curl --resolve: the name stays (SNI, certificate check), the address is pinned
        port = pinned.port or t.port
        return port, {CurlOpt.RESOLVE: [f"{t.host}:{port}:{pinned.address}"]}

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await _read_head(reader)
            if head is None:
                return
            method, path, headers = head
            body = await _read_body(reader, headers)
            authority = next((v for k, v in headers if k.lower() == "host"), "")
            target = self.targets.get(authority.lower())
            if target is None:
                await self._error(writer, 502, f"ccproxy: curl-cffi relay has no provider for host {authority!r}")
                return
            await self._forward(writer, target, method, path, headers, body)
        except Exception as e:  # a relay fault is the flow's 502, never a dead connection without answer
            log.warning("curl-cffi relay: %s: %s", type(e).__name__, e)
            with contextlib.suppress(Exception):
                await self._error(writer, 502, f"ccproxy: curl-cffi transport failed: {type(e).__name__}: {e}")
        finally:
            with contextlib.suppress(Exception):
                writer.close()
                await writer.wait_closed()

    async def _forward(
        self,
        writer: asyncio.StreamWriter,
        t: Target,
        method: str,
        path: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> None:
        default_port = 443 if t.scheme == "https" else 80
        authority = t.host if t.port == default_port else f"{t.host}:{t.port}"
        port, _options = self._dial(t)
        url = f"{t.scheme}://{t.host}:{port}{path}"
        # the Host header names the provider as configured, whatever port a pin dials
        fwd = [("Host", authority), *((k, v) for k, v in headers if k.lower() not in _HOP)]
        self.sent += 1
        session = self._session(t)
        resp = await session.request(
            method,
            url,
            headers=fwd,
            data=body or None,
            impersonate=t.profile,
            default_headers=False,
            verify=self.verify,
            stream=True,
            timeout=self.timeout,
            allow_redirects=False,
        )
        started = False
        try:
            head = [f"HTTP/1.1 {resp.status_code} {resp.reason or 'OK'}"]
            for k, v in resp.headers.multi_items():
                if k.lower() not in _HOP and k.lower() != "content-encoding":
                    head.append(f"{k}: {v}")
            head += ["transfer-encoding: chunked", "connection: close", "", ""]
            writer.write("\r\n".join(head).encode("latin-1"))
            await writer.drain()
            started = True
            async for chunk in resp.aiter_content():
                if chunk:
                    writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        except Exception as e:
            if not started:
                raise
            # mid-stream: no terminating chunk, so mitmproxy sees the stream cut as it was upstream
            log.warning("curl-cffi relay: upstream stream of %s broke: %s: %s", t.host, type(e).__name__, e)
            writer.transport.abort()
        finally:
            await resp.aclose()

    async def _error(self, writer: asyncio.StreamWriter, status: int, message: str) -> None:
        payload = json.dumps({"error": {"type": "api_error", "message": message}}).encode()
        writer.write(
            (
                f"HTTP/1.1 {status} Bad Gateway\r\ncontent-type: application/json\r\n"
                f"content-length: {len(payload)}\r\nconnection: close\r\n\r\n"
            ).encode()
            + payload
        )
        await writer.drain()
