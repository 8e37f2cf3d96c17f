"""Malformed input is refused in the client's format before anything is forwarded: JSON nested
10,000 deep, invalid header bytes (RFC 9112), bodies above max_body_bytes (not buffered), and a
conversion failure logs no traceback."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ccproxy.lightllm.ir import WIRES
from tests.support.daemon import DaemonProcess, provider_entry
from tests.support.fake_provider import FakeProvider, Reply

pytestmark = pytest.mark.timeout(300)

LIMIT = 1024 * 1024
PATHS = {
    "anthropic": "/v1/messages",
    "openai": "/v1/chat/completions",
    "openai_responses": "/v1/responses",
    "gemini": "/v1beta/models/gemini-x:generateContent",
}


@pytest.fixture(scope="module")
def fake(shared_fake: FakeProvider) -> FakeProvider:
    return shared_fake


@pytest.fixture(scope="module")
def daemon(fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    config: dict[str, Any] = {
        "ccproxy": {
            "providers": {w: provider_entry(fake.hostport, w) for w in WIRES},
            "lightllm": {
                "transforms": [{"match_model": "^to-anthropic$", "action": "transform", "dest_provider": "anthropic"}]
            },
            "max_body_bytes": LIMIT,
        }
    }
    d = DaemonProcess(tmp_path_factory.mktemp("refused"), config)
    d.start()
    yield d
    d.stop()


def check_format(wire: str, r: httpx.Response, status: int, kind: str, needle: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers.get("x-ccproxy-error") == kind
    body = r.json()
    if wire == "anthropic":
        assert body["type"] == "error" and needle in body["error"]["message"]
    elif wire == "gemini":
        assert body["error"]["code"] == status and needle in body["error"]["message"]
        assert body["error"]["status"] == "INVALID_ARGUMENT"
    else:
        assert body["error"]["code"] == kind and needle in body["error"]["message"]


def deep(n: int) -> bytes:
    return b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "x": ' + b"[" * n + b"]" * n + b"}"


@pytest.mark.parametrize("wire", WIRES)
def test_deep_json_is_refused_and_never_forwarded(daemon: DaemonProcess, fake: FakeProvider, wire: str) -> None:
    before = len(fake.received)
    r = httpx.post(
        daemon.url + PATHS[wire],
        content=deep(10_000),
        headers={"content-type": "application/json"},
        timeout=30,
        trust_env=False,
    )
    check_format(wire, r, 400, "invalid_request", "nests deeper than")
    assert len(fake.received) == before, "the deep body was forwarded"


def test_deep_json_converted_is_refused_too(daemon: DaemonProcess, fake: FakeProvider) -> None:
    before = len(fake.received)
    body = deep(10_000).replace(b'"model": "m"', b'"model": "to-anthropic"')
    r = httpx.post(
        daemon.url + PATHS["openai"],
        content=body,
        headers={"content-type": "application/json"},
        timeout=30,
        trust_env=False,
    )
    check_format("openai", r, 400, "invalid_request", "nests deeper than")
    assert len(fake.received) == before


def test_moderately_nested_json_still_passes(daemon: DaemonProcess, fake: FakeProvider) -> None:
    r = httpx.post(
        daemon.url + PATHS["openai"],
        content=deep(60),
        headers={"content-type": "application/json"},
        timeout=30,
        trust_env=False,
    )
    assert r.status_code == 200, r.text


def raw(daemon: DaemonProcess, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=30) as s:
        s.sendall(request)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
            if b"\r\n\r\n" in out:
                head, _, body = out.partition(b"\r\n\r\n")
                length = [int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")]
                if length and len(body) >= length[0]:
                    break
        return out


INVALID_HEADERS = {
    "bare_cr": b"X-A: a\rInjected: 1\r\n",
    "nul": b"X-A: a\x00b\r\n",
    "obs_fold": b"X-A: a\r\n folded: 1\r\n",
    "bad_name": b"X A: b\r\n",
}


@pytest.mark.parametrize("case", list(INVALID_HEADERS))
@pytest.mark.parametrize("wire", ["anthropic", "openai"])
def test_invalid_header_bytes_are_refused(daemon: DaemonProcess, fake: FakeProvider, wire: str, case: str) -> None:
    before = len(fake.received)
    body = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'
    req = (
        f"POST {PATHS[wire]} HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n".encode()
        + INVALID_HEADERS[case]
        + f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )
    out = raw(daemon, req)
    head, _, payload = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), out
    assert b"x-ccproxy-error: invalid_request" in head
    text = json.dumps(json.loads(payload))  # JSON every SDK reads, not mitmproxy's HTML page
    # an invalid name is caught by mitmproxy's own header validation, the rest by ccproxy's
    assert "RFC 9112" in text or case == "bad_name"
    assert len(fake.received) == before, "a request with invalid header bytes was forwarded"


@pytest.mark.parametrize("wire", WIRES)
def test_body_over_the_limit_is_413_in_the_clients_format(daemon: DaemonProcess, fake: FakeProvider, wire: str) -> None:
    before = len(fake.received)
    body = b'{"model": "m", "pad": "' + b"x" * (2 * LIMIT) + b'"}'
    r = httpx.post(
        daemon.url + PATHS[wire],
        content=body,
        headers={"content-type": "application/json"},
        timeout=60,
        trust_env=False,
    )
    if wire == "gemini":
        assert r.status_code == 413 and r.json()["error"]["code"] == 413
    else:
        check_format(wire, r, 413, "request_too_large", "max_body_bytes")
    assert len(fake.received) == before


def vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_chunked_body_over_the_limit_is_refused_without_buffering(daemon: DaemonProcess, fake: FakeProvider) -> None:
    """64 MiB streamed without a content-length: refused at the limit, and the daemon's peak
    memory does not grow by anything like the body (it is dropped as it arrives)."""
    assert daemon.proc is not None
    before, peak_before = len(fake.received), vm_hwm_kib(daemon.proc.pid)
    chunk = b"x" * 65536

    def body() -> Iterator[bytes]:
        yield b'{"model": "m", "pad": "'
        for _ in range(1024):
            yield chunk
        yield b'"}'

    r = httpx.post(
        daemon.url + PATHS["anthropic"],
        content=body(),
        headers={"content-type": "application/json"},
        timeout=120,
        trust_env=False,
    )
    check_format("anthropic", r, 413, "request_too_large", "max_body_bytes")
    assert len(fake.received) == before
    grown_mib = (vm_hwm_kib(daemon.proc.pid) - peak_before) / 1024
    assert grown_mib < 16, f"peak RSS grew by {grown_mib:.0f} MiB for a refused 64 MiB body"


def test_conversion_failure_is_400_without_a_traceback(daemon: DaemonProcess, fake: FakeProvider) -> None:
    before = len(fake.received)
    body = {"model": "to-anthropic", "messages": "not a list"}
    r = httpx.post(daemon.url + PATHS["openai"], json=body, timeout=30, trust_env=False)
    assert r.status_code == 400, r.text
    assert "cannot convert" in r.json()["error"]["message"]
    assert len(fake.received) == before
    log = daemon.logs()
    assert "KeyError" not in log and "Traceback" not in log, log[-2000:]


@pytest.mark.parametrize(
    ("wire", "status", "body"),
    [
        ("anthropic", 529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        (
            "openai",
            429,
            {"error": {"message": "Slow down", "type": "requests", "param": None, "code": "rate_limit_exceeded"}},
        ),
    ],
)
def test_same_format_429_529_keep_retry_after(
    daemon: DaemonProcess, fake: FakeProvider, wire: str, status: int, body: dict[str, Any]
) -> None:
    fake.queue(Reply(status=status, json=body, headers={"retry-after": "7", "retry-after-ms": "7000"}))
    r = httpx.post(
        daemon.url + PATHS[wire],
        json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
        trust_env=False,
    )
    assert r.status_code == status and r.json() == body
    assert r.headers["retry-after"] == "7" and r.headers["retry-after-ms"] == "7000"
