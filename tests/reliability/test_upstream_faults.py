"""Every upstream fault x the four client formats, through the real daemon and the official SDKs.

The client always gets an error in its own wire format (the SDK raises its typed status error
with a JSON body), with a stable type/code and a message naming the upstream and the cause —
never mitmproxy's HTML page — and it gets it from ccproxy's own timeouts, before the SDK's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ccproxy.lightllm.ir import WIRES
from tests.support.daemon import DaemonProcess, provider_entry

from .faultserver import Blackhole, FaultServer, Staller, dead_port
from .sdk_errors import CLIENT_TIMEOUT, call, error_fields

pytestmark = pytest.mark.timeout(300)

READ_TIMEOUT = 1.0
CONNECT_TIMEOUT = 1.0
MODELS = {"anthropic": "claude-x", "openai": "gpt-x", "openai_responses": "gpt-x", "gemini": "gemini-x"}


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultServer]:
    server = FaultServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hole() -> Iterator[Blackhole]:
    h = Blackhole()
    yield h
    h.close()


@pytest.fixture(scope="module")
def staller() -> Iterator[Staller]:
    s = Staller()
    yield s
    s.close()


@pytest.fixture(scope="module")
def daemon(
    faults: FaultServer, hole: Blackhole, staller: Staller, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DaemonProcess]:
    providers: dict[str, Any] = {w: provider_entry(faults.hostport, w) for w in WIRES}
    providers["dead"] = provider_entry(f"127.0.0.1:{dead_port()}", "anthropic")
    providers["hole"] = provider_entry(f"127.0.0.1:{hole.port}", "anthropic")
    # https, so mitmproxy starts a TLS handshake the staller never answers (upstream trust as
    # configured: verification stays on, the handshake never gets as far as a certificate)
    providers["tls_stall"] = provider_entry(f"127.0.0.1:{staller.port}", "anthropic", scheme="https")
    config: dict[str, Any] = {
        "ccproxy": {
            "providers": providers,
            "lightllm": {
                "transforms": [
                    {"match_model": "^refused", "dest_provider": "dead", "action": "transform"},
                    {"match_model": "^blackhole", "dest_provider": "hole", "action": "transform"},
                    {"match_model": "^tlsstall", "dest_provider": "tls_stall", "action": "transform"},
                ]
            },
            "upstream_read_timeout": READ_TIMEOUT,
            "upstream_connect_timeout": CONNECT_TIMEOUT,
        }
    }
    d = DaemonProcess(tmp_path_factory.mktemp("faults"), config)
    d.start()
    yield d
    d.stop()


# fault -> (how to provoke it: model prefix, x-test-fault), stable kind, status, words of the cause
FAULTS: dict[str, tuple[str, str, str, int, str]] = {
    "refused": ("refused", "", "upstream_unreachable", 502, "unreachable"),
    "connect_timeout": ("blackhole", "", "upstream_connect_timeout", 504, "did not accept the connection"),
    "tls_handshake_stall": (
        "tlsstall",
        "",
        "upstream_connect_timeout",
        504,
        f"did not complete the TLS handshake within {CONNECT_TIMEOUT:g}s",
    ),
    "closed": ("", "close", "upstream_failed", 502, "failed before answering"),
    "reset": ("", "reset", "upstream_failed", 502, "failed before answering"),
    "partial_headers": ("", "partial", "upstream_failed", 502, "failed before answering"),
    "short_body": ("", "short", "upstream_failed", 502, "failed before answering"),
    "no_answer": ("", "stall", "upstream_timeout", 504, f"no response headers within {READ_TIMEOUT:g}s"),
}
# what each SDK user reads as the stable error class, per fault kind
STABLE: dict[str, dict[str, str]] = {
    "anthropic": {
        "upstream_unreachable": "api_error",
        "upstream_failed": "api_error",
        "upstream_timeout": "timeout_error",
        "upstream_connect_timeout": "timeout_error",
    },
    "gemini": {
        "upstream_unreachable": "INTERNAL",
        "upstream_failed": "INTERNAL",
        "upstream_timeout": "DEADLINE_EXCEEDED",
        "upstream_connect_timeout": "DEADLINE_EXCEEDED",
    },
}


def expected_stable(wire: str, kind: str) -> str:
    return STABLE[wire][kind] if wire in STABLE else kind  # OpenAI: the kind is the `code`


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("wire", WIRES)
def test_upstream_fault_in_the_clients_format(
    daemon: DaemonProcess, faults: FaultServer, hole: Blackhole, staller: Staller, wire: str, fault: str
) -> None:
    prefix, how, kind, status, cause = FAULTS[fault]
    if fault == "connect_timeout" and not hole.hangs(0.5):
        pytest.skip("this kernel completes loopback connects to a full accept queue (no SYN drop)")
    model = f"{prefix}-{MODELS[wire]}" if prefix else MODELS[wire]
    err = call(wire, daemon.url, model, {"x-test-fault": how} if how else {})
    assert err.status == status, err
    stable, message = error_fields(wire, err)
    assert stable == expected_stable(wire, kind), err
    assert err.headers.get("x-ccproxy-error") == kind
    assert err.headers.get("content-type", "").startswith("application/json")
    assert message.startswith("ccproxy: upstream 127.0.0.1:") and cause in message, message
    assert "mitmproxy" not in err.text.lower() and "<html" not in err.text.lower()
    # ccproxy's timeout answered, not the SDK's own (which would raise APITimeoutError instead)
    assert err.elapsed < CLIENT_TIMEOUT
    if fault == "tls_handshake_stall":
        # TLS was attempted: the stalled connection received a handshake record (0x16)
        assert b"\x16" in staller.first_bytes, staller.first_bytes


def test_faults_are_recorded_and_logged_without_tracebacks(daemon: DaemonProcess) -> None:
    flows = daemon.flows(bodies="1")
    failed = [f for f in flows if f.get("error")]
    assert failed, "the faulted flows were not recorded"
    for f in failed:
        assert f["client_response"]["headers"]["x-ccproxy-error"].startswith("upstream_")
    log = daemon.logs()
    # each flow's log line gives the status the client got: the short body's 502, not the
    # upstream's 200 that preceded it
    short = [f for f in failed if (f.get("response") or {}).get("status_code") == 200]
    assert short, "no short-body flow (upstream 200, then a cut body) was recorded"
    for f in failed:
        line = next((ln for ln in log.splitlines() if f" {f['id'][:8]} " in f" {ln} "), None)
        assert line is not None, f"no log line for flow {f['id']}"
        assert f"-> {f['client_response']['status_code']} error: ccproxy: upstream" in line, line
    assert "Traceback" not in log and "mitmproxy has crashed" not in log
