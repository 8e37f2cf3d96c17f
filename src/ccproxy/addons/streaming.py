"""Stream LLM responses to the client as they arrive, converting between wire formats.

On `responseheaders`, an event stream (or Gemini's streamed JSON array) gets a StreamTap as
`flow.response.stream`: each upstream chunk is converted (when `ccproxy.client_wire` and
`ccproxy.upstream_wire` differ) and written to the client at once, never buffered whole. The
flow keeps both sides (each capped): the upstream's bytes as `flow.response`, and what the client
received as `ccproxy.client_response` when that differs. Faults end the stream with an error
event in the client's format (see mitm_compat.CcproxyHttpStream) and are recorded in `ccproxy.error`.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from typing import Any, cast, get_args
from urllib.parse import parse_qs, urlsplit

from mitmproxy import ctx, http

from ccproxy.addons.failsafe import fail_closed
from ccproxy.flows import meta
from ccproxy.lightllm.code_assist import unwrap_on_return
from ccproxy.lightllm.ir import Wire
from ccproxy.lightllm.stream import RequestContext, StreamConverter
from ccproxy.mitm_compat import guard_stream, zstd_decompressor

log = logging.getLogger("ccproxy.addons.streaming")

DEFAULT_IDLE_TIMEOUT = 300.0
DEFAULT_RECORD_LIMIT = 16 * 1024 * 1024
_WIRES = frozenset(get_args(Wire))


class _Decoder:
    """Incremental content-decoding: converted streams must be read as plain text."""

    def __init__(self, encoding: str) -> None:
        self._zlib: Any = None
        self._other: Any = None
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()
        elif encoding == "br":
            import brotli

            self._other = brotli.Decompressor()
        elif encoding == "zstd":
            self._other = zstd_decompressor()
        else:
            raise ValueError(f"unsupported content-encoding {encoding!r}")

    def __call__(self, data: bytes) -> bytes:
        if self._zlib is not None:
            return self._zlib.decompress(data)
        if hasattr(self._other, "process"):
            return cast(bytes, self._other.process(data))
        return cast(bytes, self._other.decompress(data))


class StreamTap:
    """The `flow.response.stream` callable of one response. mitmproxy calls it with each
    upstream chunk and with b"" at the end; the guarded HTTP stream calls `fail` on faults."""

    def __init__(
        self,
        flow: http.HTTPFlow,
        converter: StreamConverter | None,
        *,
        decoder: _Decoder | None = None,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        record_limit: int = DEFAULT_RECORD_LIMIT,
    ) -> None:
        self.flow = flow
        self.converter = converter
        self.decoder = decoder
        self.idle_timeout = idle_timeout
        self.record_limit = record_limit
        self.last_activity = time.monotonic()
        self.started = time.monotonic()
        self.ended = False
        self.error: str | None = None
        self._upstream = bytearray()
        self._client = bytearray()
        self._upstream_total = 0
        self._client_total = 0
        self.first_byte_at: float | None = None
        # headers as the upstream sent them, before conversion rewrote content-type/-encoding
        self.upstream_headers: http.Headers | None = None
        self.pending_error: str | None = None  # fail on the first chunk (e.g. unknown encoding)

    def __call__(self, chunk: bytes) -> list[bytes]:
        # A list, never b"": mitmproxy would send an empty bytes as a zero-length HTTP/1 chunk,
        # which ends the chunked body for the client.
        out = self._convert(chunk)
        return [out] if out else []

    def _convert(self, chunk: bytes) -> bytes:
        self.last_activity = time.monotonic()
        if self.ended:
            return b""
        if self.pending_error is not None:
            self._upstream_total += len(chunk)
            self._upstream += chunk[: self.record_limit]
            return self.fail(self.pending_error)
        if not chunk:
            out = self.converter.close() if self.converter is not None else b""
            self._note_error()
            self._record_client(out)
            self.finish()
            return out
        self._upstream_total += len(chunk)
        if len(self._upstream) < self.record_limit:
            self._upstream += chunk[: self.record_limit - len(self._upstream)]
        try:
            data = self.decoder(chunk) if self.decoder is not None else chunk
        except Exception as e:  # zlib.error, brotli.error, zstd errors: all mean corrupt input
            return self.fail(f"upstream body could not be decoded: {e}")
        out = self.converter.feed(data) if self.converter is not None else data
        self._note_error()
        self._record_client(out)
        return out

    def fail(self, message: str) -> bytes:
        """Error event in the client's format; the stream is over afterwards."""
        if self.ended:
            return b""
        if self.error is None:
            self.error = message
        out = self.converter.fail(message) if self.converter is not None else b""
        self._record_client(out)
        self.finish()
        return out

    def _note_error(self) -> None:
        if self.converter is not None and self.converter.error and self.error is None:
            self.error = self.converter.error

    def _record_client(self, out: bytes) -> None:
        if out and self.first_byte_at is None:
            self.first_byte_at = time.monotonic()
        self._client_total += len(out)
        if len(self._client) < self.record_limit:
            self._client += out[: self.record_limit - len(self._client)]

    def finish(self) -> None:
        """Record both sides in the flow; called once, at the end or on a fault.

        As everywhere in ccproxy, `flow.response` is the upstream's answer and
        `ccproxy.client_response` what the client received when that differs (converted,
        decoded, or ended with an error event). mitmproxy keeps no streamed body itself."""
        self.ended = True
        md = self.flow.metadata
        info = cast(dict[str, Any], md.setdefault(meta.STREAM, {}))
        info.update(
            upstream_bytes=self._upstream_total,
            client_bytes=self._client_total,
            truncated=self._upstream_total > len(self._upstream) or self._client_total > len(self._client),
            events=self.converter.events if self.converter is not None else None,
            duration_s=round(time.monotonic() - self.started, 6),
            first_byte_s=None if self.first_byte_at is None else round(self.first_byte_at - self.started, 6),
        )
        if self.error is not None:
            md[meta.ERROR] = self.error
        if self.converter is not None and self.converter.upstream_id:
            md[meta.UPSTREAM_ID] = self.converter.upstream_id
        resp = self.flow.response
        if resp is None:
            return
        upstream, client = bytes(self._upstream), bytes(self._client)
        # the fields tuple is immutable: no copy of the headers (or of the response) is needed
        client_fields = resp.headers.fields
        if self.upstream_headers is not None:
            resp.headers = self.upstream_headers
        resp.data.content = upstream
        if client != upstream or client_fields != resp.headers.fields:
            sent = resp.get_state()  # the upstream's state, with what the client got instead
            sent["headers"], sent["content"] = client_fields, client
            md[meta.CLIENT_RESPONSE] = sent


def stream_kind(flow: http.HTTPFlow) -> str | None:
    """ "sse", "gemini_array" or None (not a stream we handle)."""
    assert flow.response is not None
    ctype = flow.response.headers.get("content-type", "").lower()
    if ctype.startswith("text/event-stream"):
        return "sse"
    # Gemini's streamGenerateContent without alt=sse answers one JSON array, element by element
    if (
        flow.response.status_code == 200
        and ":streamgeneratecontent" in flow.request.path.lower()
        and ctype.startswith("application/json")
    ):
        return "gemini_array"
    return None


def request_context(flow: http.HTTPFlow) -> RequestContext:
    """What the client asked for, from its original request (before the pipeline rewrote it)."""
    state = flow.metadata.get(meta.CLIENT_REQUEST)
    path, body = flow.request.path, flow.request.raw_content or b""
    if isinstance(state, dict):
        path = _text(state.get("path"), path)
        raw = state.get("content")
        if isinstance(raw, (bytes, str)):
            body = raw.encode() if isinstance(raw, str) else raw
    try:
        payload = json.loads(body) if body else {}
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    opts = payload.get("stream_options")
    include_usage = bool(isinstance(opts, dict) and opts.get("include_usage"))
    query = parse_qs(urlsplit(path).query) if "?" in path else {}
    model = payload.get("model") if isinstance(payload.get("model"), str) else ""
    if not model and "/models/" in path:  # Gemini puts the model in the path
        model = path.split("/models/", 1)[1].split(":", 1)[0]
    return RequestContext(
        model=model or "",
        include_usage=include_usage,
        gemini_sse=query.get("alt", [""])[0] == "sse",
    )


def _where(flow: http.HTTPFlow) -> str:
    # host and path only: Gemini clients may put their API key in the query string
    return flow.request.pretty_host + flow.request.path.split("?", 1)[0]


def _text(v: object, default: str) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v if isinstance(v, str) else default


@fail_closed  # routes, converts or injects: an exception answers an error, never forwards
class StreamingAddon:
    def __init__(self, idle_timeout: float = DEFAULT_IDLE_TIMEOUT, record_limit: int = DEFAULT_RECORD_LIMIT) -> None:
        self.idle_timeout = idle_timeout
        self.record_limit = record_limit

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response is None or flow.error or flow.response.stream:
            return
        kind = stream_kind(flow)
        if kind is None:
            return
        upstream_headers = flow.response.headers.copy()
        md = flow.metadata
        client = md.get(meta.CLIENT_WIRE)
        upstream = md.get(meta.UPSTREAM_WIRE) or client
        converter: StreamConverter | None = None
        decoder: _Decoder | None = None
        undecodable: str | None = None
        if client in _WIRES and upstream in _WIRES:
            rctx = request_context(flow)
            if client != "gemini":
                rctx.gemini_sse = True
            converter = StreamConverter(
                cast(Wire, upstream),
                cast(Wire, client),
                rctx,
                upstream_gemini_sse=kind == "sse",
                upstream_envelope=unwrap_on_return(md.get(meta.CODE_ASSIST)),
            )
            encoding = flow.response.headers.get("content-encoding", "").strip().lower()
            if encoding and encoding != "identity":
                try:
                    decoder = _Decoder(encoding)
                except ValueError as e:
                    # never relay bytes we cannot read as if converted: the client gets an error
                    log.warning("stream of flow %s (%s) cannot be read: %s", flow.id, _where(flow), e)
                    undecodable = f"upstream stream cannot be read: {e}"
                del flow.response.headers["content-encoding"]
            if not converter.passthrough:
                gemini_array = client == "gemini" and not rctx.gemini_sse
                ctype = "application/json; charset=UTF-8" if gemini_array else "text/event-stream; charset=utf-8"
                flow.response.headers["content-type"] = ctype
                flow.response.headers.pop("content-length", None)
        tap = StreamTap(
            flow, converter, decoder=decoder, idle_timeout=self.idle_timeout, record_limit=self.record_limit
        )
        tap.upstream_headers = upstream_headers
        tap.pending_error = undecodable
        flow.response.stream = tap
        md[meta.STREAM] = {
            "kind": kind,
            "upstream_wire": upstream,
            "client_wire": client,
            "converted": converter is not None and not converter.passthrough,
        }
        if converter is not None and not guard_stream(ctx.master, flow):
            log.warning("stream fault handling unavailable for flow %s (%s)", flow.id, _where(flow))

    def error(self, flow: http.HTTPFlow) -> None:
        # a stream mitmproxy gave up on (client gone, or an unguarded upstream failure):
        # keep what was relayed
        tap = flow.response.stream if flow.response is not None else None
        if isinstance(tap, StreamTap) and not tap.ended:
            if tap.error is None and flow.error is not None:
                tap.error = f"stream interrupted: {flow.error.msg}"
            tap.finish()
