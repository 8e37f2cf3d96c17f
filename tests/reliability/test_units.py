"""The pure pieces behind the reliability guarantees."""

from __future__ import annotations

import asyncio
import errno
import logging

import pytest
from mitmproxy import flow as mflow
from mitmproxy import http
from mitmproxy.test import tflow

from ccproxy.addons.connections import fd_cap
from ccproxy.addons.faults import invalid_header
from ccproxy.addons.flow_recorder import describe
from ccproxy.daemon.master import AcceptErrorLog
from ccproxy.flows import meta
from ccproxy.lightllm.errors import fault
from ccproxy.lightllm.jsonlimits import MAX_JSON_DEPTH, nesting_depth, too_deep


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b"", 0),
        (b"1", 0),
        (b"[]", 1),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'{"a": "[[[[[[{{{{"}', 1),  # brackets inside strings do not count
        (b'{"a": "\\"[[[["}', 1),  # nor after an escaped quote
        (b"[" * 10_000 + b"]" * 10_000, 10_000),
        (b"[[[", 3),  # invalid JSON is measured, not parsed
    ],
)
def test_nesting_depth(text: bytes, depth: int) -> None:
    assert nesting_depth(text) == depth


def test_too_deep_bound() -> None:
    assert not too_deep(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    assert too_deep(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1))
    # many shallow objects are fine
    assert not too_deep(b"[" + b",".join([b"{}"] * 5000) + b"]")


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ([(b"x-a", b"fine\tvalue")], None),
        ([(b"x-a", b"a\rInjected: 1")], "control character"),
        ([(b"x-a", b"a\x00b")], "control character"),
        ([(b"x-a", b"a\r\n folded")], "obs-fold"),
        ([(b"x a", b"b")], "invalid header name"),
    ],
)
def test_invalid_header(fields: list[tuple[bytes, bytes]], why: str | None) -> None:
    got = invalid_header(http.Headers(fields))
    assert (got is None) if why is None else (got is not None and why in got)


@pytest.mark.parametrize(
    ("wire", "kind", "status", "check"),
    [
        ("anthropic", "upstream_timeout", 504, lambda b: b["error"]["type"] == "timeout_error"),
        ("anthropic", "upstream_unreachable", 502, lambda b: b["error"]["type"] == "api_error"),
        ("anthropic", "shutting_down", 503, lambda b: b["error"]["type"] == "overloaded_error"),
        ("openai", "upstream_failed", 502, lambda b: b["error"]["code"] == "upstream_failed"),
        ("openai_responses", "request_too_large", 413, lambda b: b["error"]["code"] == "request_too_large"),
        ("gemini", "upstream_timeout", 504, lambda b: b["error"]["status"] == "DEADLINE_EXCEEDED"),
        ("gemini", "request_too_large", 413, lambda b: b["error"]["code"] == 413),
    ],
)
def test_fault_bodies(wire: str, kind: str, status: int, check: object) -> None:
    got_status, body = fault(wire, kind, "ccproxy: x")  # type: ignore[arg-type]
    assert got_status == status and check(body)  # type: ignore[operator]


def test_fd_cap() -> None:
    assert fd_cap(1024, 256) == 96  # (256 - 64) / 2: every client may hold an upstream fd
    assert fd_cap(100, 65536) == 100
    assert fd_cap(10, 64) == 1


def test_accept_errors_are_one_warning_per_period(caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.new_event_loop()
    try:
        handler = AcceptErrorLog()
        with caplog.at_level(logging.WARNING, logger="ccproxy.daemon.master"):
            for _ in range(1000):
                handler(
                    loop,
                    {
                        "message": "socket.accept() out of system resource",
                        "exception": OSError(errno.EMFILE, "Too many open files"),
                    },
                )
        assert len(caplog.records) == 1 and "Too many open files" in caplog.records[0].getMessage()
        assert handler.suppressed == 999
    finally:
        loop.close()


def test_log_line_gives_the_status_the_client_got() -> None:
    """A body cut short after the upstream's 200: the client got ccproxy's 502, the line says so."""
    f = tflow.tflow(resp=True)
    assert f.response is not None and f.response.status_code == 200
    assert " -> 200" in describe(f)
    f.error = mflow.Error("ccproxy: upstream 127.0.0.1:9 failed before answering: cut")
    f.metadata[meta.CLIENT_RESPONSE] = http.Response.make(502, b"{}").get_state()
    line = describe(f)
    assert " -> 502 error: ccproxy: upstream 127.0.0.1:9 failed before answering" in line, line
    assert "-> 200" not in line
    # no response at all (refused connect): the error alone, as before
    g = tflow.tflow()
    g.error = mflow.Error("unreachable")
    assert describe(g).split(" -> ", 1)[1].startswith("error: unreachable")
