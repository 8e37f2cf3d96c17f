"""Control endpoints, the flow store and its persistence."""

from __future__ import annotations

import httpx
import pytest

from tests.support.daemon import DaemonProcess
from tests.support.fake_provider import FakeProvider


def test_root_and_health(daemon: DaemonProcess) -> None:
    assert httpx.get(daemon.url + "/", trust_env=False).status_code == 200
    assert httpx.head(daemon.url + "/", trust_env=False).status_code == 200
    health = httpx.get(daemon.url + "/health", trust_env=False).json()
    assert health["status"] == "ok"
    assert health["listeners"]["proxy"] == f"127.0.0.1:{daemon.port}"
    # Control requests are not recorded as flows.
    assert daemon.flows() == []


def test_flow_has_client_snapshot_and_forwarded_request(daemon: DaemonProcess, fake: FakeProvider) -> None:
    httpx.post(
        daemon.url + "/v1/messages?beta=true",
        json={"model": "m", "messages": []},
        headers={"x-api-key": "sk-ant-secret-value"},
        trust_env=False,
    )
    [flow] = daemon.flows()
    assert flow["client_request"]["host"] == "127.0.0.1"
    assert flow["client_request"]["port"] == daemon.port
    assert flow["request"]["pretty_host"] == "127.0.0.1"
    assert flow["request"]["port"] == fake.port
    assert flow["request"]["path"] == "/v1/messages?beta=true"
    assert flow["response"]["status_code"] == 200
    assert flow["ccproxy"]["provider"] == "anthropic"
    assert flow["ccproxy"]["client_wire"] == "anthropic"
    # Secrets are redacted by default and only shown on request.
    assert flow["request"]["headers"]["x-api-key"] == "<redacted>"
    assert "sk-ant-secret-value" not in httpx.get(daemon.url + "/flows?bodies=1", trust_env=False).text
    # Client keys are not kept at rest (flows.store_secrets: false): reveal shows what was kept.
    one = httpx.get(
        f"{daemon.url}/flows/{flow['id'][:8]}?reveal=1", trust_env=False, headers=daemon.token_headers()
    ).json()
    assert one["request"]["headers"]["x-api-key"] == "<redacted>"
    assert '"messages":[]' in one["request"]["body"]


def test_seed_jq_shapes(daemon: DaemonProcess) -> None:
    """The fields the seeds' jq examples use exist with the expected values."""
    import jq

    httpx.post(daemon.url + "/v1/messages", json={"model": "m"}, trust_env=False)
    httpx.post(daemon.url + "/v1/chat/completions", json={"model": "m"}, trust_env=False)
    flows = daemon.flows()
    picked = jq.compile('map(select(.request.path | startswith("/v1/messages")))').input_value(flows).first()
    assert len(picked) == 1
    ok = jq.compile('map(select(.request.method == "POST")) | map(select(.response.status_code == 200))')
    assert len(ok.input_value(flows).first()) == 2


def test_delete_flows(daemon: DaemonProcess) -> None:
    for _ in range(3):
        httpx.post(daemon.url + "/v1/messages", json={"model": "m"}, trust_env=False)
    ids = [f["id"] for f in daemon.flows()]
    r = httpx.delete(daemon.url + "/flows", params={"ids": ids[0]}, trust_env=False, headers=daemon.token_headers())
    assert r.json() == {"deleted": 1}
    assert [f["id"] for f in daemon.flows()] == ids[1:]
    assert httpx.delete(daemon.url + "/flows", trust_env=False, headers=daemon.token_headers()).json() == {"deleted": 2}
    assert daemon.flows() == []


def test_restart_keeps_flows(fake: FakeProvider, start_daemon) -> None:
    from tests.conftest import all_wires_providers

    cfg = {"ccproxy": {"providers": all_wires_providers(fake)}}
    d = start_daemon(cfg)
    for i in range(3):
        httpx.post(d.url + "/v1/messages", json={"model": f"m{i}"}, trust_env=False)
    before = d.flows()
    assert d.stop() == 0
    d.start()
    after = d.flows()
    assert [f["id"] for f in after] == [f["id"] for f in before]
    assert after[2]["response"]["status_code"] == 200


def test_store_bounded_by_count(fake: FakeProvider, start_daemon) -> None:
    from tests.conftest import all_wires_providers

    d = start_daemon({"ccproxy": {"providers": all_wires_providers(fake), "flows": {"max_flows": 3}}})
    for i in range(5):
        httpx.post(d.url + "/v1/messages", json={"model": f"m{i}"}, trust_env=False)
    flows = d.flows(bodies="1")
    assert [f["request"]["body"] for f in flows] == [f'{{"model":"m{i}"}}' for i in (2, 3, 4)]
    d.stop()
    d.start()
    assert len(d.flows()) == 3


def test_secrets_never_in_logs(fake: FakeProvider, start_daemon) -> None:
    from tests.conftest import all_wires_providers

    secret = "sk-ant-api03-" + "S3cr3t" * 8
    d = start_daemon({"ccproxy": {"providers": all_wires_providers(fake), "log_level": "DEBUG"}})
    httpx.post(d.url + "/v1/messages", json={"model": "m"}, headers={"x-api-key": secret}, trust_env=False)
    httpx.post(
        d.url + "/v1/chat/completions",
        json={"model": "m"},
        headers={"authorization": f"Bearer {secret}"},
        trust_env=False,
    )
    assert fake.received[0].headers["x-api-key"] == secret  # it did go upstream...
    d.stop()
    logs = (d.config_dir / "ccproxy.log").read_text() + d.logs()
    assert "POST 127.0.0.1/v1/messages -> 200" in logs
    assert "request headers" in logs and "<redacted>" in logs
    assert secret not in logs  # ...but never into a log line
    assert secret[:12] not in logs


@pytest.mark.parametrize(
    ("line", "leaked"),
    [
        ("token sk-ant-oat01-abcdefghijklmnopqrstuvwxyz0123", "abcdefghijklmnopqrstuvwxyz0123"),
        ("key sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX", "ABCDEFGHIJKLMNOPQRSTUVWX"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
        ("x-goog-api-key: AIzaSyA1234567890abcdefghijklmnopqrstu", "1234567890abcdefghij"),
        ("google ya29.a0AfH6SMBx-token-value", "a0AfH6SMBx"),
    ],
)
def test_log_scrubber(line: str, leaked: str) -> None:
    from ccproxy.daemon.logs import scrub

    cleaned = scrub(line)
    assert leaked not in cleaned
    assert "<redacted>" in cleaned


def test_flow_file_is_private(daemon: DaemonProcess) -> None:
    httpx.post(daemon.url + "/v1/messages", json={"model": "m"}, headers={"x-api-key": "k"}, trust_env=False)
    path = daemon.config_dir / "flows.db"
    assert path.stat().st_size > 0
    for f in (path, *daemon.config_dir.glob("flows.db-*")):  # the WAL files too
        assert oct(f.stat().st_mode & 0o777) == "0o600", f
    httpx.delete(daemon.url + "/flows", trust_env=False, headers=daemon.token_headers())
    assert oct(path.stat().st_mode & 0o777) == "0o600"
