"""A real OTLP/HTTP trace receiver on loopback: decodes ExportTraceServiceRequest protobufs
(opentelemetry-proto, the collector's own message types) into plain span records."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


@dataclass
class SpanRecord:
    name: str
    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    kind: int
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    events: list[tuple[str, int, dict[str, Any]]]
    status_code: int
    status_message: str
    resource: dict[str, Any] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    server: OtlpReceiver

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.server.received(self.path, dict(self.headers.items()), body)
        out = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


class OtlpReceiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spans: list[SpanRecord] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._cond = threading.Condition()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def received(self, path: str, headers: dict[str, str], body: bytes) -> None:
        req = ExportTraceServiceRequest()
        req.ParseFromString(body)
        spans: list[SpanRecord] = []
        for rs in req.resource_spans:
            resource = {a.key: _value(a.value) for a in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    spans.append(
                        SpanRecord(
                            name=s.name,
                            trace_id=s.trace_id,
                            span_id=s.span_id,
                            parent_span_id=s.parent_span_id,
                            kind=s.kind,
                            start_ns=s.start_time_unix_nano,
                            end_ns=s.end_time_unix_nano,
                            attributes={a.key: _value(a.value) for a in s.attributes},
                            events=[
                                (e.name, e.time_unix_nano, {a.key: _value(a.value) for a in e.attributes})
                                for e in s.events
                            ],
                            status_code=s.status.code,
                            status_message=s.status.message,
                            resource=resource,
                        )
                    )
        with self._cond:
            self.requests.append((path, {k.lower(): v for k, v in headers.items()}))
            self.spans.extend(spans)
            self._cond.notify_all()

    def wait_for(self, pred: Callable[[SpanRecord], bool], timeout: float = 60.0) -> SpanRecord:
        """The first span matching ``pred``; the timeout only stops a hung test."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for s in self.spans:
                    if pred(s):
                        return s
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching span among {[s.name for s in self.spans]}")
                self._cond.wait(left)

    def start(self) -> OtlpReceiver:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
