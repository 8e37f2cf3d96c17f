"""StreamingAddon pieces on mitmproxy flow objects: which responses stream, the request
context, content decoding, recording, and the conversion errors that end a stream."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable

import pytest
from mitmproxy.test import tflow, tutils

from ccproxy.addons.streaming import StreamTap, _Decoder, request_context, stream_kind
from ccproxy.lightllm.stream import RequestContext, StreamConverter

from .oracles import StreamErrorSeen, rendered_summary
from .test_faults import source


def flow_with(path: str, ctype: str, status: int = 200, body: dict[str, object] | None = None) -> tflow.HTTPFlow:
    f = tflow.tflow(req=tutils.treq(path=path.encode(), content=json.dumps(body or {}).encode()))
    f.response = tutils.tresp(status_code=status, headers=[(b"content-type", ctype.encode())], content=b"")
    return f


@pytest.mark.parametrize(
    ("path", "ctype", "status", "expected"),
    [
        ("/v1/messages", "text/event-stream; charset=utf-8", 200, "sse"),
        ("/v1/messages", "application/json", 200, None),
        ("/v1beta/models/g:streamGenerateContent", "application/json; charset=UTF-8", 200, "gemini_array"),
        ("/v1beta/models/g:streamGenerateContent", "application/json", 429, None),
        ("/v1beta/models/g:generateContent", "application/json", 200, None),
    ],
)
def test_stream_kind(path: str, ctype: str, status: int, expected: str | None) -> None:
    assert stream_kind(flow_with(path, ctype, status)) == expected


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/v1/chat/completions", {"model": "gpt-x", "stream_options": {"include_usage": True}}, ("gpt-x", True, False)),
        ("/v1/chat/completions", {"model": "gpt-x", "stream": True}, ("gpt-x", False, False)),
        ("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", {}, ("gemini-2.5-pro", False, True)),
        ("/v1beta/models/gemini-2.5-pro:streamGenerateContent", {}, ("gemini-2.5-pro", False, False)),
    ],
)
def test_request_context(path: str, body: dict[str, object], expected: tuple[str, bool, bool]) -> None:
    ctx = request_context(flow_with(path, "text/event-stream", body=body))
    assert (ctx.model, ctx.include_usage, ctx.gemini_sse) == expected


def test_request_context_prefers_the_client_snapshot() -> None:
    """The pipeline may rewrite the forwarded body; the client's original request decides."""
    f = flow_with("/v1/chat/completions", "text/event-stream", body={"model": "upstream-model"})
    snap = f.request.copy()
    snap.content = json.dumps({"model": "client-model", "stream_options": {"include_usage": True}}).encode()
    f.metadata["ccproxy.client_request"] = snap.get_state()
    ctx = request_context(f)
    assert (ctx.model, ctx.include_usage) == ("client-model", True)


def _brotli(b: bytes) -> bytes:
    import brotli

    return bytes(brotli.compress(b))


def _zstd(b: bytes) -> bytes:
    from ccproxy.mitm_compat import zstd_compress  # whichever zstd package mitmproxy brings

    return zstd_compress(b)


@pytest.mark.parametrize(
    ("name", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("br", _brotli), ("zstd", _zstd)],
)
def test_decoder_is_incremental(name: str, compress: Callable[[bytes], bytes]) -> None:
    raw = source("openai")
    packed = compress(raw)
    dec = _Decoder(name)
    assert b"".join(dec(packed[i : i + 7]) for i in range(0, len(packed), 7)) == raw


def test_unknown_encoding_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported content-encoding 'compress'"):
        _Decoder("compress")


def test_tap_records_both_sides_and_returns_lists() -> None:
    f = flow_with("/v1/messages", "text/event-stream")
    f.response.headers["content-encoding"] = "gzip"
    tap = StreamTap(f, StreamConverter("openai", "anthropic", RequestContext(model="m")), decoder=_Decoder("gzip"))
    tap.upstream_headers = f.response.headers.copy()
    del f.response.headers["content-encoding"]
    raw = source("openai")
    packed = gzip.compress(raw)
    out = [c for i in range(0, len(packed), 50) for c in tap(packed[i : i + 50])]
    out += tap(b"")
    assert all(isinstance(c, bytes) and c for c in out)  # never b"": that would end a chunked body
    assert rendered_summary("anthropic", b"".join(out)).text == "Checking both."
    assert f.response.raw_content == packed and f.response.headers["content-encoding"] == "gzip"
    sent = f.metadata["ccproxy.client_response"]
    assert sent["content"] == b"".join(out) and (b"content-encoding", b"gzip") not in sent["headers"]
    assert f.metadata["ccproxy.stream"]["upstream_bytes"] == len(packed)


def test_tap_caps_the_recording() -> None:
    f = flow_with("/v1/messages", "text/event-stream")
    tap = StreamTap(f, None, record_limit=100)
    raw = source("anthropic")
    for i in range(0, len(raw), 64):
        tap(raw[i : i + 64])
    tap(b"")
    assert len(f.response.raw_content) == 100
    assert f.metadata["ccproxy.stream"]["truncated"] is True


def test_corrupt_compressed_stream_is_a_clean_error() -> None:
    f = flow_with("/v1/messages", "text/event-stream")
    tap = StreamTap(f, StreamConverter("openai", "anthropic", RequestContext()), decoder=_Decoder("gzip"))
    out = b"".join(tap(b"this is not gzip at all"))
    with pytest.raises(StreamErrorSeen, match="could not be decoded"):
        rendered_summary("anthropic", out)
    assert "could not be decoded" in f.metadata["ccproxy.error"]
    assert tap(b"more") == [] and tap(b"") == []
