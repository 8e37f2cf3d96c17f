"""Relays event streams chunk by chunk while keeping a copy for the flow store.

mitmproxy buffers whole bodies by default; an LLM stream must reach the client
as each event arrives.
"""

from __future__ import annotations

from collections.abc import Callable

from mitmproxy import http

STREAM_BUFFER = "ccproxy.stream_buffer"


def is_event_stream(response: http.Response) -> bool:
    ctype = response.headers.get("content-type", "").lower()
    return ctype.startswith("text/event-stream")


def recording_stream(chunks: list[bytes]) -> Callable[[bytes], bytes]:
    def relay(data: bytes) -> bytes:
        if data:
            chunks.append(data)
        return data

    return relay


class SseRelayAddon:
    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response is None or flow.response.stream or not is_event_stream(flow.response):
            return
        chunks: list[bytes] = []
        flow.metadata[STREAM_BUFFER] = chunks
        flow.response.stream = recording_stream(chunks)

    def response(self, flow: http.HTTPFlow) -> None:
        chunks = flow.metadata.pop(STREAM_BUFFER, None)
        if chunks is not None and flow.response is not None:
            flow.response.raw_content = b"".join(chunks)

    def error(self, flow: http.HTTPFlow) -> None:
        chunks = flow.metadata.pop(STREAM_BUFFER, None)
        if chunks and flow.response is not None:
            flow.response.raw_content = b"".join(chunks)
