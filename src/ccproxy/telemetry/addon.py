"""One OpenTelemetry span per proxied flow, exported over OTLP by a batch processor.

One addon at the end of the chain rather than a span opened by the inspector and closed by
the recorder: the span is built from the flow's own timestamps (request start, first byte,
response end, each hook's run), so nothing needs to stay open across addons, and the
attributes are read once the last addon has rewritten the response.

Nothing of it runs on the event loop: the finished flow (no addon touches it after this one)
goes to one worker thread that reads it and builds the span, so the client's answer is not held
up (mitmproxy sends it once every response hook returned). Ending a span only enqueues it; the
BatchSpanProcessor's thread encodes and sends, so the proxy never waits for the collector. Both
queues are bounded: under overload spans are dropped, never memory.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterable, Mapping

from mitmproxy import http
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from ccproxy import __version__
from ccproxy.config.models import Otel
from ccproxy.flows import meta
from ccproxy.flows.columns import flow_columns
from ccproxy.telemetry.exporter import build_exporter
from ccproxy.telemetry.genai import flow_facts

log = logging.getLogger(__name__)

# Finished flows waiting for their span; beyond this they get none (and one log line a minute).
PENDING_MAX = 2048
_STOP = object()


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


def tracer_provider(cfg: Otel, exporter: SpanExporter) -> TracerProvider:
    # Our own provider, never the global one: a hook or library that sets the global must not
    # redirect (or double) ccproxy's spans.
    provider = TracerProvider(
        resource=Resource.create({"service.name": cfg.service_name, "service.version": __version__})
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


class TelemetryAddon:
    def __init__(self, cfg: Otel, secrets: Callable[[], Iterable[str]], env: Mapping[str, str] | None = None) -> None:
        """Raises OtelConfigError (a ValueError) for settings that cannot work."""
        self.cfg = cfg
        self.secrets = secrets
        exporter = build_exporter(cfg, os.environ if env is None else env)
        self.provider = tracer_provider(cfg, exporter)
        self.tracer = self.provider.get_tracer("ccproxy")
        self._pending: queue.Queue[object] = queue.Queue(PENDING_MAX)
        self._dropped = 0
        self._worker = threading.Thread(target=self._work, name="ccproxy-otel-spans", daemon=True)
        self._worker.start()

    def response(self, flow: http.HTTPFlow) -> None:
        self._enqueue(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._enqueue(flow)

    def _enqueue(self, flow: http.HTTPFlow) -> None:
        md = flow.metadata
        if md.get(meta.CONTROL) or md.get(meta.SPAN_SENT) or flow.request is None or not flow.request.timestamp_start:
            return
        md[meta.SPAN_SENT] = True  # a stream that fails after its response event gets no second span
        try:
            self._pending.put_nowait(flow)
        except queue.Full:
            self._dropped += 1
            if self._dropped == 1 or self._dropped % 1000 == 0:
                log.warning("otel: span worker behind; %d span(s) dropped so far", self._dropped)

    def _work(self) -> None:
        while (item := self._pending.get()) is not _STOP:
            try:
                self._span(item)  # type: ignore[arg-type]
            except Exception:  # the worker must outlive any one bad flow
                log.exception("otel: no span for a flow")

    def _span(self, flow: http.HTTPFlow) -> None:
        try:
            columns = flow_columns(flow)
            facts = flow_facts(flow, columns, capture_content=self.cfg.capture_content, secrets=self.secrets())
        except Exception:  # telemetry must never break proxying
            log.exception("otel: no span for flow %s", flow.id[:8])
            return
        start = flow.request.timestamp_start
        end = columns.ts_end or start
        span = self.tracer.start_span(
            facts.name, kind=SpanKind.CLIENT, start_time=_ns(start), attributes=facts.attributes
        )
        for name, at, attrs in facts.events:
            span.add_event(name, attributes=attrs, timestamp=_ns(at))
        parent = set_span_in_context(span)
        for name, child_start, child_end, attrs in facts.children:
            child = self.tracer.start_span(name, context=parent, start_time=_ns(child_start), attributes=attrs)
            child.end(end_time=_ns(child_end))
        if facts.error:
            span.set_status(Status(StatusCode.ERROR, facts.error))
        span.end(end_time=_ns(end))

    def flush(self) -> None:
        """Blocking: every pending flow gets its span, and the exporter sends what it holds."""
        self._pending.put(_STOP)
        self._worker.join()
        self.provider.shutdown()

    async def done(self) -> None:
        # Flushes what is queued; blocking (network), so off the event loop.
        await asyncio.to_thread(self.flush)
