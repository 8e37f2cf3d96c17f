"""A fixed-concurrency HTTP/1.1 load driver on asyncio (uvloop when installed).

N workers, one keep-alive connection each, send the same request back to back for a fixed
time or a fixed count, and record per request the latency (send → last body byte) and the
time to first body byte (what a streaming client waits for). The client side is a minimal
HTTP/1.1 reader (content-length, chunked, or close-delimited bodies) so that the driver costs
little next to the subjects it measures.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    path: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()

    def wire_bytes(self, hostport: str) -> bytes:
        lines = [f"POST {self.path} HTTP/1.1", f"host: {hostport}", "content-type: application/json"]
        lines += [f"{k}: {v}" for k, v in self.headers]
        lines.append(f"content-length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    ttfbs: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    elapsed: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0


class BadResponse(Exception):
    pass


async def _read_response(reader: asyncio.StreamReader, t0: float) -> tuple[int, float, bool]:
    """Reads one response; returns (status, ttfb, keep_alive)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip().lower()
    keep = headers.get("connection") != "close"
    ttfb = 0.0
    if "content-length" in headers:
        n = int(headers["content-length"])
        if n:
            await reader.readexactly(n)
        ttfb = time.perf_counter() - t0
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # end of (empty) trailers
                break
            await reader.readexactly(size + 2)
            if not ttfb:
                ttfb = time.perf_counter() - t0
    else:  # delimited by close
        while chunk := await reader.read(65536):
            if not ttfb and chunk:
                ttfb = time.perf_counter() - t0
        keep = False
    return status, ttfb, keep


async def _worker(host: str, port: int, raw: bytes, result: LoadResult, stop_at: float, budget: list[int]) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    try:
        while time.perf_counter() < stop_at and budget[0] != 0:
            budget[0] -= 1
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            assert reader is not None
            t0 = time.perf_counter()
            try:
                writer.write(raw)
                status, ttfb, keep = await _read_response(reader, t0)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError) as e:
                result.errors += 1
                result.first_error = result.first_error or f"{type(e).__name__}: {e}"
                writer.close()
                writer = None
                await asyncio.sleep(0.01)
                continue
            if status != 200:
                result.errors += 1
                result.first_error = result.first_error or f"HTTP {status}"
            else:
                result.latencies.append(time.perf_counter() - t0)
                result.ttfbs.append(ttfb)
            if not keep:
                writer.close()
                writer = None
    finally:
        if writer is not None:
            writer.close()


async def _run(host: str, port: int, req: Request, concurrency: int, duration: float, count: int) -> LoadResult:
    raw = req.wire_bytes(f"{host}:{port}")
    result = LoadResult()
    budget = [count if count > 0 else -1]
    t0 = time.perf_counter()
    stop_at = t0 + duration if duration > 0 else float("inf")
    await asyncio.gather(*(_worker(host, port, raw, result, stop_at, budget) for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - t0
    return result


def drive(host: str, port: int, req: Request, concurrency: int, duration: float = 0.0, count: int = 0) -> LoadResult:
    """Runs the load: for `duration` seconds, or until `count` requests were sent."""
    try:
        import uvloop

        return uvloop.run(_run(host, port, req, concurrency, duration, count))
    except ImportError:
        return asyncio.run(_run(host, port, req, concurrency, duration, count))
