"""Cost of the Code Assist envelope in the stream intake, and of the curl-cffi relay.

    .venv/bin/python bench/code_assist_transport.py [--events N] [--requests R]

1. Envelope: a Gemini SSE stream of N text events, converted Gemini -> Anthropic, with each
   event in Code Assist's `{response: ...}` envelope vs the same events bare (the baseline),
   side by side; CPU time (process_time) per upstream event.
2. Relay: R streamed requests (20 SSE events each) to a loopback HTTP server, sent through the
   in-daemon curl-cffi relay (what a `fingerprint_profile` provider costs) vs sent by curl-cffi
   directly (baseline) and by httpx directly; wall time per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from ccproxy.lightllm.stream import RequestContext, StreamConverter
from ccproxy.transport.relay import CurlRelay, Target


def gemini_sse(n: int, envelope: bool) -> list[bytes]:
    out = []
    for i in range(n):
        chunk: dict[str, Any] = {
            "candidates": [{"content": {"role": "model", "parts": [{"text": f"word{i} "}]}, "index": 0}],
            "modelVersion": "gemini-bench",
            "responseId": "r1",
        }
        if i == n - 1:
            chunk["candidates"][0]["finishReason"] = "STOP"
            chunk["usageMetadata"] = {"promptTokenCount": 10, "candidatesTokenCount": n, "totalTokenCount": 10 + n}
        body = {"response": chunk, "traceId": "t"} if envelope else chunk
        out.append(b"data: " + json.dumps(body).encode() + b"\r\n\r\n")
    return out


def convert(events: list[bytes], envelope: bool) -> float:
    start = time.process_time()
    conv = StreamConverter("gemini", "anthropic", RequestContext(model="m"), upstream_envelope=envelope)
    for e in events:
        conv.feed(e)
    conv.close()
    assert conv.error is None, conv.error
    return time.process_time() - start


def bench_envelope(n: int, repeat: int = 5) -> None:
    bare, wrapped = gemini_sse(n, False), gemini_sse(n, True)
    t_bare = min(convert(bare, False) for _ in range(repeat))
    t_env = min(convert(wrapped, True) for _ in range(repeat))
    print(f"envelope: {n} events gemini->anthropic")
    print(f"  bare (baseline)  {t_bare / n * 1e6:8.2f} us/event")
    print(f"  code assist      {t_env / n * 1e6:8.2f} us/event   ratio {t_env / t_bare:.2f}x")


class _SSE(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # without it Nagle + delayed ACK add ~40 ms per exchange and drown what is measured
    disable_nagle_algorithm = True

    def log_message(self, *a: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for i in range(20):
            ev = f'data: {{"i": {i}}}\n\n'.encode()
            self.wfile.write(f"{len(ev):x}\r\n".encode() + ev + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")


async def bench_relay(requests: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SSE)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    authority = f"127.0.0.1:{port}"
    relay = CurlRelay({authority: Target("http", "127.0.0.1", port, "chrome136")}, True, {})
    relay_port = await relay.start()
    body = b'{"stream": true}'

    async def via_httpx(url: str, headers: dict[str, str]) -> None:
        async with httpx.AsyncClient(trust_env=False) as c:
            for _ in range(requests):
                async with c.stream("POST", url, content=body, headers=headers) as r:
                    async for _chunk in r.aiter_raw():
                        pass

    async def via_curl() -> None:
        from curl_cffi.requests import AsyncSession

        async with AsyncSession() as s:
            for _ in range(requests):
                r = await s.request("POST", f"http://{authority}/v1", data=body, impersonate="chrome136", stream=True)
                async for _chunk in r.aiter_content():
                    pass
                await r.aclose()

    timings = {}
    for name, job in (
        ("httpx direct", lambda: via_httpx(f"http://{authority}/v1", {})),
        ("curl-cffi direct (baseline)", via_curl),
        ("through the relay", lambda: via_httpx(f"http://127.0.0.1:{relay_port}/v1", {"host": authority})),
    ):
        start = time.perf_counter()
        await job()
        timings[name] = (time.perf_counter() - start) / requests
    await relay.stop()
    server.shutdown()
    base = timings["curl-cffi direct (baseline)"]
    print(f"relay: {requests} streamed requests of 20 events, loopback")
    for name, t in timings.items():
        print(f"  {name:28s} {t * 1e3:8.2f} ms/request   ratio {t / base:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    bench_envelope(args.events)
    asyncio.run(bench_relay(args.requests))


if __name__ == "__main__":
    main()
