"""The OTLP span exporter from `otel:` config and the standard OTEL_EXPORTER_OTLP_* variables,
and a wrapper that turns an unreachable collector into one log line per minute."""

from __future__ import annotations

import logging
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ccproxy.config.models import Otel

log = logging.getLogger(__name__)

DEFAULT_HTTP_ENDPOINT = "http://127.0.0.1:4318"
DEFAULT_GRPC_ENDPOINT = "http://127.0.0.1:4317"
TRACES_PATH = "/v1/traces"
WARN_EVERY_S = 60.0
_PROTOCOLS = ("grpc", "http/protobuf")


class OtelConfigError(ValueError):
    """A telemetry setting that cannot work (unknown protocol, missing exporter package)."""


def _env(env: Mapping[str, str], name: str) -> str | None:
    """The signal-specific variable wins over the general one (OTLP exporter spec)."""
    value = env.get(f"OTEL_EXPORTER_OTLP_TRACES_{name}") or env.get(f"OTEL_EXPORTER_OTLP_{name}")
    return value.strip() if value and value.strip() else None


def resolve_protocol(cfg: Otel, env: Mapping[str, str]) -> str:
    protocol = cfg.protocol or _env(env, "PROTOCOL") or "http/protobuf"
    if protocol not in _PROTOCOLS:
        raise OtelConfigError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL: unsupported protocol {protocol!r} (use grpc or http/protobuf)"
        )
    return protocol


def resolve_endpoint(cfg: Otel, env: Mapping[str, str], protocol: str) -> str:
    """The URL spans are sent to. A base endpoint (config, OTEL_EXPORTER_OTLP_ENDPOINT) gets
    /v1/traces appended for OTLP/HTTP; OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as given."""
    if protocol == "grpc":
        return cfg.endpoint or _env(env, "ENDPOINT") or DEFAULT_GRPC_ENDPOINT
    traces = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if not cfg.endpoint and traces:
        return traces
    base = (cfg.endpoint or env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() or DEFAULT_HTTP_ENDPOINT).rstrip("/")
    return base if base.endswith(TRACES_PATH) else base + TRACES_PATH


def parse_headers(value: str | None) -> dict[str, str]:
    """`k1=v1,k2=v2` with URL-encoded values (the OTEL_EXPORTER_OTLP_HEADERS format)."""
    headers: dict[str, str] = {}
    for item in (value or "").split(","):
        name, sep, val = item.partition("=")
        if sep and name.strip():
            headers[urllib.parse.unquote(name.strip()).lower()] = urllib.parse.unquote(val.strip())
    return headers


def resolve_headers(cfg: Otel, env: Mapping[str, str]) -> dict[str, str]:
    return {**parse_headers(_env(env, "HEADERS")), **{k.lower(): v for k, v in cfg.headers.items()}}


def build_exporter(cfg: Otel, env: Mapping[str, str]) -> SpanExporter:
    protocol = resolve_protocol(cfg, env)
    endpoint = resolve_endpoint(cfg, env, protocol)
    headers = resolve_headers(cfg, env)
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found,unused-ignore]
                OTLPSpanExporter as GrpcExporter,
            )
        except ImportError as e:
            raise OtelConfigError(
                "otel.protocol: grpc needs the package opentelemetry-exporter-otlp-proto-grpc "
                "(pip install opentelemetry-exporter-otlp-proto-grpc), or use http/protobuf"
            ) from e
        exporter: SpanExporter = GrpcExporter(endpoint=endpoint, headers=headers or None)
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=endpoint, headers=headers or None)
    return RateLimitedExporter(exporter, endpoint)


class RateLimitedExporter(SpanExporter):
    """Runs on the batch processor's thread, never on the event loop. A failing collector is
    reported at most once per WARN_EVERY_S; the OTLP exporter's own per-batch logging is muted."""

    def __init__(self, inner: SpanExporter, endpoint: str) -> None:
        self.inner = inner
        self.endpoint = endpoint
        self._last_warning: float | None = None
        self._failed_batches = 0
        self._lock = threading.Lock()
        logging.getLogger("opentelemetry.exporter").setLevel(logging.CRITICAL)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception as e:  # an exporter bug or transport fault must not kill the batch thread
            self._failed(f"{type(e).__name__}: {e}")
            return SpanExportResult.FAILURE
        if result is SpanExportResult.FAILURE:
            self._failed("export failed")
        return result

    def _failed(self, why: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._failed_batches += 1
            if self._last_warning is not None and now - self._last_warning < WARN_EVERY_S:
                return
            count, self._failed_batches = self._failed_batches, 0
            self._last_warning = now
        log.warning(
            "otel: cannot send spans to %s (%s); %d batch(es) dropped; next report in %.0fs",
            self.endpoint,
            why,
            count,
            WARN_EVERY_S,
        )

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)
