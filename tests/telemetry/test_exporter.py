"""Exporter settings from config and OTEL_EXPORTER_OTLP_*; an unreachable collector is one
warning per minute, however many batches fail."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from ccproxy.config.models import Otel
from ccproxy.telemetry.exporter import (
    OtelConfigError,
    RateLimitedExporter,
    resolve_endpoint,
    resolve_headers,
    resolve_protocol,
)
from tests.support.daemon import free_port


@pytest.mark.parametrize(
    ("cfg", "env", "expected"),
    [
        ({}, {}, "http://127.0.0.1:4318/v1/traces"),
        ({"endpoint": "http://collector:4318/"}, {}, "http://collector:4318/v1/traces"),
        ({"endpoint": "http://c:4318/v1/traces"}, {}, "http://c:4318/v1/traces"),
        ({}, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://e:4318"}, "http://e:4318/v1/traces"),
        ({}, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:1/custom"}, "http://t:1/custom"),
        (
            {"endpoint": "http://cfg:4318"},
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:1/x"},
            "http://cfg:4318/v1/traces",
        ),
    ],
)
def test_endpoint(cfg: dict[str, str], env: dict[str, str], expected: str) -> None:
    assert resolve_endpoint(Otel(**cfg), env, "http/protobuf") == expected


def test_protocol_and_headers() -> None:
    assert resolve_protocol(Otel(), {}) == "http/protobuf"
    assert resolve_protocol(Otel(), {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}) == "grpc"
    assert resolve_protocol(Otel(protocol="http/protobuf"), {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}) == "http/protobuf"
    with pytest.raises(OtelConfigError, match="unsupported protocol 'http/json'"):
        resolve_protocol(Otel(), {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})
    env = {"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20abc,x-a=1"}
    assert resolve_headers(Otel(headers={"x-a": "2"}), env) == {"authorization": "Bearer abc", "x-a": "2"}


def test_unreachable_collector_warns_once_per_minute(caplog: pytest.LogCaptureFixture) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}/v1/traces"  # nothing listens there
    exporter = RateLimitedExporter(OTLPSpanExporter(endpoint=endpoint, timeout=0.5), endpoint)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with caplog.at_level(logging.WARNING):
        for i in range(3):
            tracer.start_span(f"s{i}").end()
    provider.shutdown()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert endpoint in warnings[0].getMessage() and "next report in 60s" in warnings[0].getMessage()
