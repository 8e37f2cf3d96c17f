"""Streaming conversion: upstream SSE in one wire format → IR stream events → client's format."""

from ccproxy.lightllm.stream.converter import StreamConverter
from ccproxy.lightllm.stream.events import RequestContext

__all__ = ["RequestContext", "StreamConverter"]
