"""Transport override and upstream trust through the real daemon.

A provider with `fingerprint_profile` is sent by curl-cffi from inside the daemon: the loopback
TLS fake sees a Chrome ClientHello (GREASE cipher suites, which OpenSSL -- mitmproxy's own
client -- never sends), the stream arrives event by event through the SDK, and the flow is
recorded with its real destination. The fake's certificate comes from a throwaway CA trusted
through the provider's `ca_bundle`: verification stays on.
"""

from __future__ import annotations

import ssl
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
import yaml

from ccproxy.config.loader import ConfigError, parse_config
from tests.jail.support import make_ca
from tests.support.canned import anthropic_events
from tests.support.daemon import DaemonProcess
from tests.support.fake_provider import FakeProvider, Reply

pytestmark = pytest.mark.timeout(120)

HOST = "api.fingerprint.test"
PLAIN = "api.plain.test"
GREASE = {(b << 8) | b for b in range(0x0A, 0x100, 0x10)}


def cipher_suites(client_hello: bytes) -> list[int]:
    """Cipher suites of a TLS ClientHello handshake message (type 1)."""
    if not client_hello or client_hello[0] != 1:
        return []
    pos = 4 + 2 + 32  # handshake header, legacy_version, random
    pos += 1 + client_hello[pos]  # session id
    (length,) = struct.unpack_from("!H", client_hello, pos)
    pos += 2
    return [struct.unpack_from("!H", client_hello, pos + i)[0] for i in range(0, length, 2)]


class HelloRecorder:
    def __init__(self) -> None:
        self.hellos: list[list[int]] = []

    def __call__(self, conn: Any, direction: str, version: Any, content_type: Any, msg_type: Any, data: bytes) -> None:
        if direction == "read" and content_type == ssl._TLSContentType.HANDSHAKE and data[:1] == b"\x01":
            self.hellos.append(cipher_suites(data))


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeProvider, HelloRecorder, Path]]:
    root = tmp_path_factory.mktemp("ca")
    ca = make_ca(root, [HOST, PLAIN])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ca.cert_pem, ca.key_pem)
    recorder = HelloRecorder()
    ctx._msg_callback = recorder  # type: ignore[attr-defined]  # the stdlib's TLS debug hook
    server = FakeProvider(ssl_context=ctx).start()
    yield server, recorder, ca.ca_pem
    server.stop()


@pytest.fixture(scope="module")
def daemon(
    tls: tuple[FakeProvider, HelloRecorder, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DaemonProcess]:
    fake, _, ca_pem = tls
    config = {
        "ccproxy": {
            "providers": {
                "chrome": {
                    "type": "anthropic",
                    "host": HOST,
                    "fingerprint_profile": "chrome136",
                    "ca_bundle": str(ca_pem),
                    "auth": {"type": "command", "command": "echo real-key"},
                },
                "plain": {
                    "type": "anthropic",
                    "host": PLAIN,
                    "ca_bundle": str(ca_pem),
                    "auth": {"type": "command", "command": "echo real-key"},
                },
            },
            "inspector": {"resolve": {HOST: fake.hostport, PLAIN: fake.hostport}},
        }
    }
    d = DaemonProcess(tmp_path_factory.mktemp("daemon"), config)
    d.start()
    yield d
    d.stop()


def test_curl_cffi_stream_with_browser_fingerprint(daemon: DaemonProcess, tls: tuple[Any, HelloRecorder, Path]) -> None:
    fake, recorder, _ = tls
    recorder.hellos.clear()
    fake.queue(Reply(events=anthropic_events("claude-x", "one two three four"), pause_after=2, pause=0.3))
    client = anthropic.Anthropic(api_key="sk-ant-oat-ccproxy-chrome", base_url=daemon.url)
    seen: list[str] = []
    with client.messages.stream(model="claude-x", max_tokens=32, messages=[{"role": "user", "content": "hi"}]) as s:
        for text in s.text_stream:
            seen.append(text)
        final = s.get_final_message()
    assert "".join(seen) == "one two three four"
    assert len(seen) == 4  # event by event, not one buffered blob
    assert final.content[0].type == "text"
    got = fake.last()
    assert got.headers["x-api-key"] == "real-key"
    assert got.headers["host"] == HOST
    assert "sec-ch-ua" not in got.headers  # the transport is impersonated, never a browser's headers
    assert recorder.hellos and all(GREASE & set(h) for h in recorder.hellos)
    flow = daemon.flows()[-1]
    assert flow["request"]["host"] == HOST and flow["request"]["scheme"] == "https"
    assert flow["ccproxy"]["transport"]["name"] == "curl_cffi"
    assert flow["ccproxy"]["transport"]["profile"] == "chrome136"


def test_plain_provider_trusts_ca_bundle(daemon: DaemonProcess, tls: tuple[Any, HelloRecorder, Path]) -> None:
    _, recorder, _ = tls
    recorder.hellos.clear()
    client = anthropic.Anthropic(api_key="sk-ant-oat-ccproxy-plain", base_url=daemon.url)
    msg = client.messages.create(model="m", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    assert msg.content[0].type == "text"
    # mitmproxy's own client verified the self-signed fake against the ca_bundle, without GREASE
    assert recorder.hellos and not any(GREASE & set(h) for h in recorder.hellos)
    assert daemon.flows()[-1]["ccproxy"]["transport"] is None


def test_untrusted_upstream_fails_without_the_ca(tls: tuple[Any, HelloRecorder, Path], tmp_path: Path) -> None:
    fake, _, _ = tls
    config = {
        "ccproxy": {
            "providers": {
                "plain": {"type": "anthropic", "host": PLAIN, "auth": {"type": "command", "command": "echo k"}}
            },
            "inspector": {"resolve": {PLAIN: fake.hostport}},
        }
    }
    d = DaemonProcess(tmp_path / "d", config).start()
    try:
        client = anthropic.Anthropic(api_key="sk-ant-oat-ccproxy-plain", base_url=d.url, max_retries=0)
        with pytest.raises(anthropic.APIStatusError) as err:
            client.messages.create(model="m", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
        assert err.value.status_code == 502
    finally:
        d.stop()


def test_invalid_profile_lists_valid_ones(tmp_path: Path) -> None:
    raw = {"ccproxy": {"providers": {"x": {"type": "openai", "host": "h", "fingerprint_profile": "netscape4"}}}}
    with pytest.raises(ConfigError) as err:
        parse_config(raw, tmp_path)
    message = str(err.value)
    assert "ccproxy.providers.x" in message and "'netscape4'" in message
    assert "chrome136" in message and "safari" in message and "\n" not in message


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    cases = {
        "profile": {"providers": {"x": {"type": "openai", "host": "h", "fingerprint_profile": "netscape4"}}},
        "web": {"providers": {"p": {"type": "perplexity_pro", "host": "www.perplexity.ai"}}},
        "ca": {"inspector": {"upstream_ca": str(tmp_path / "missing.pem")}},
    }
    expected = {
        "profile": "unknown curl-cffi target 'netscape4' (valid: ",
        "web": "declined on purpose",
        "ca": "ccproxy.inspector.upstream_ca: cannot read",
    }
    for name, section in cases.items():
        cfg = tmp_path / name
        cfg.mkdir()
        (cfg / "ccproxy.yaml").write_text(yaml.safe_dump({"ccproxy": {"port": 0, **section}}))
        r = subprocess.run(
            [sys.executable, "-m", "ccproxy", "--config", str(cfg), "start"], capture_output=True, text=True, timeout=60
        )
        assert r.returncode != 0, name
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and expected[name] in lines[0], (name, r.stderr)
        assert "Traceback" not in r.stderr


def test_curl_cffi_stream_cut_midway_reaches_the_client_as_an_error(
    daemon: DaemonProcess, tls: tuple[Any, HelloRecorder, Path]
) -> None:
    fake, _, _ = tls
    fake.queue(Reply(events=anthropic_events("claude-x", "one two three four"), reset_after=4))
    client = anthropic.Anthropic(api_key="sk-ant-oat-ccproxy-chrome", base_url=daemon.url, max_retries=0)
    seen: list[str] = []
    messages: Any = [{"role": "user", "content": "hi"}]
    with (
        pytest.raises(anthropic.APIError),
        client.messages.stream(model="claude-x", max_tokens=32, messages=messages) as s,
    ):
        for text in s.text_stream:
            seen.append(text)
    assert seen == ["one "]
    flow = daemon.flows()[-1]
    assert flow["ccproxy"]["transport"]["name"] == "curl_cffi"
