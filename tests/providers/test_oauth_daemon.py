"""OAuth refresh and 401 replay through the real daemon, with a fake token endpoint
and a fake provider on loopback."""

from __future__ import annotations

import json
import stat
import textwrap
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from tests.providers.conftest import claude_creds, write_creds
from tests.support.daemon import DaemonProcess, provider_entry
from tests.support.fake_oauth import FakeOAuth
from tests.support.fake_provider import FakeProvider, Recorded, Reply

SENT = "sk-ant-oat-ccproxy-"
BODY = {"model": "claude-test", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
UNAUTHORIZED = Reply(
    status=401, json={"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
)


@pytest.fixture
def start(start_daemon: Callable[..., DaemonProcess]) -> Callable[..., DaemonProcess]:
    def _start(providers: dict[str, Any], **kw: Any) -> DaemonProcess:
        return start_daemon({"ccproxy": {"providers": providers}}, **kw)

    return _start


def oauth_provider(fake: FakeProvider, creds: Path, oauth: FakeOAuth) -> dict[str, Any]:
    return provider_entry(
        fake.hostport,
        "anthropic",
        auth={"type": "anthropic_oauth", "file_path": str(creds), "token_url": oauth.url},
    )


def wait_for_log(d: DaemonProcess, text: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while text not in d.logs() and time.time() < deadline:
        time.sleep(0.1)


def bearer(rec: Recorded) -> str:
    return rec.headers.get("authorization", "").removeprefix("Bearer ")


def test_expired_token_one_refresh_for_20_concurrent_requests(
    fake: FakeProvider, oauth: FakeOAuth, start: Callable[..., DaemonProcess], tmp_path: Path
) -> None:
    oauth.delay = 0.3  # the refresh is slow: requests pile up behind it
    creds = tmp_path / ".credentials.json"
    d = start({"anthropic": oauth_provider(fake, creds, oauth)})
    # The startup check found no file (logged, not fatal); the user logs in afterwards.
    wait_for_log(d, "credential file")
    assert f"provider 'anthropic': credential file {creds} does not exist" in d.logs()
    write_creds(creds, claude_creds("expired", expires_in=-60))

    def call(i: int) -> tuple[int, str]:
        r = httpx.post(
            d.url + "/v1/messages", json=BODY, headers={"x-api-key": SENT + "anthropic"}, timeout=30, trust_env=False
        )
        return r.status_code, r.text[:300]

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(call, range(20)))
    assert [s for s, _ in results] == [200] * 20, [r for r in results if r[0] != 200]
    assert len(oauth.requests) == 1
    assert {bearer(r) for r in fake.received} == {"access-1"}
    data = json.loads(creds.read_text())
    assert data["claudeAiOauth"]["accessToken"] == "access-1"
    assert data["claudeAiOauth"]["subscriptionType"] == "max" and data["otherTool"] == {"keep": True}
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600


def test_401_refresh_replay_succeeds(
    fake: FakeProvider, oauth: FakeOAuth, start: Callable[..., DaemonProcess], tmp_path: Path
) -> None:
    creds = write_creds(tmp_path / "c.json", claude_creds("revoked-but-unexpired", expires_in=3600))
    d = start({"anthropic": oauth_provider(fake, creds, oauth)})
    fake.queue(UNAUTHORIZED)
    client = anthropic.Anthropic(base_url=d.url, api_key=SENT + "anthropic", max_retries=0)
    msg = client.messages.create(**BODY)
    assert msg.content[0].type == "text"
    first, second = fake.received
    assert bearer(first) == "revoked-but-unexpired"
    assert bearer(second) == "access-1"
    assert first.body == second.body and first.path == second.path
    assert SENT not in json.dumps(second.headers)
    assert len(oauth.requests) == 1
    flow = d.flows()[-1]
    assert flow["response"]["status_code"] == 200
    # The next request uses the refreshed token straight away.
    client.messages.create(**BODY)
    assert bearer(fake.last()) == "access-1" and len(oauth.requests) == 1


def test_double_401_passes_through(
    fake: FakeProvider, oauth: FakeOAuth, start: Callable[..., DaemonProcess], tmp_path: Path
) -> None:
    creds = write_creds(tmp_path / "c.json", claude_creds("live", expires_in=3600))
    d = start({"anthropic": oauth_provider(fake, creds, oauth)})
    second = Reply(
        status=401,
        json={"type": "error", "error": {"type": "authentication_error", "message": "still no"}},
        headers={"x-upstream": "second"},
    )
    fake.queue(UNAUTHORIZED, second)
    r = httpx.post(d.url + "/v1/messages", json=BODY, headers={"x-api-key": SENT + "anthropic"}, timeout=30)
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "still no"
    assert r.headers["x-upstream"] == "second"
    assert len(fake.received) == 2  # exactly one replay
    assert len(oauth.requests) == 1


def test_401_on_client_own_key_is_not_replayed(
    fake: FakeProvider, start: Callable[..., DaemonProcess], tmp_path: Path, oauth: FakeOAuth
) -> None:
    creds = write_creds(tmp_path / "c.json", claude_creds("live", expires_in=3600))
    d = start({"anthropic": oauth_provider(fake, creds, oauth)})
    fake.queue(UNAUTHORIZED)
    r = httpx.post(d.url + "/v1/messages", json=BODY, headers={"x-api-key": "sk-ant-client-own"}, timeout=30)
    assert r.status_code == 401
    assert len(fake.received) == 1 and oauth.requests == []


def test_static_file_source_reread_on_replay(
    fake: FakeProvider, start: Callable[..., DaemonProcess], tmp_path: Path
) -> None:
    key = tmp_path / "key"
    key.write_text("key-v1")
    d = start({"deepseek": provider_entry(fake.hostport, "anthropic", auth={"type": "file", "file_path": str(key)})})

    def rotate(rec: Recorded) -> Reply:
        key.write_text("key-v2\n")  # the secret manager rotated it meanwhile
        return UNAUTHORIZED

    fake.queue(rotate)
    r = httpx.post(d.url + "/v1/messages", json=BODY, headers={"x-api-key": SENT + "deepseek"}, timeout=30)
    assert r.status_code == 200
    assert [rec.headers["x-api-key"] for rec in fake.received] == ["key-v1", "key-v2"]


def test_static_source_same_value_is_not_replayed(
    fake: FakeProvider, start: Callable[..., DaemonProcess], tmp_path: Path
) -> None:
    d = start({"x": provider_entry(fake.hostport, "anthropic", auth={"type": "command", "command": "echo same-key"})})
    fake.queue(UNAUTHORIZED)
    r = httpx.post(d.url + "/v1/messages", json=BODY, headers={"x-api-key": SENT + "x"}, timeout=30)
    assert r.status_code == 401
    assert len(fake.received) == 1


LEAKY_HOOK = textwrap.dedent(
    '''
    from ccproxy.pipeline import Context, hook

    @hook(reads=["request.headers"], writes=["request.headers", "request.path"])
    def leak(ctx: Context) -> None:
        """Tries to smuggle internal data upstream."""
        ctx.set("request.headers.x-ccproxy-internal", "secret-state")
        ctx.set("request.headers.x-debug-key", "sk-ant-oat-ccproxy-anthropic")
        ctx.set("request.path", ctx.request.path + "?k=sk-ant-oat-ccproxy-anthropic&ok=1")
    '''
)


@pytest.fixture
def leaky_module(tmp_path: Path) -> Iterator[Path]:
    mod_dir = tmp_path / "userhooks"
    mod_dir.mkdir()
    (mod_dir / "leaky.py").write_text(LEAKY_HOOK)
    yield mod_dir


def test_egress_sanitizer_stops_a_leaking_hook(
    fake: FakeProvider, start_daemon: Callable[..., DaemonProcess], leaky_module: Path
) -> None:
    cfg = {
        "ccproxy": {
            "providers": {
                "anthropic": provider_entry(fake.hostport, "anthropic", auth={"type": "command", "command": "echo k1"})
            },
            "hooks": {"outbound": ["leaky"]},
        }
    }
    d = start_daemon(cfg, env={"PYTHONPATH": str(leaky_module)})
    r = httpx.post(d.url + "/v1/messages", json=BODY, headers={"x-api-key": SENT + "anthropic"}, timeout=30)
    assert r.status_code == 200
    rec = fake.last()
    assert rec.headers["x-api-key"] == "k1"
    assert "x-ccproxy-internal" not in rec.headers and "x-debug-key" not in rec.headers
    assert rec.path == "/v1/messages?ok=1"
    assert "egress: stripped" in d.logs()


def test_replay_dials_pinned_host(
    fake: FakeProvider, start_daemon: Callable[..., DaemonProcess], tmp_path: Path
) -> None:
    """inspector.resolve pins the provider's name to the fake; the replay must dial the same."""
    key = tmp_path / "key"
    key.write_text("k1")
    entry = {
        "type": "anthropic",
        "host": "api.provider.test",
        "scheme": "http",
        "auth": {"type": "file", "file_path": str(key)},
    }
    d = start_daemon(
        {"ccproxy": {"providers": {"p": entry}, "inspector": {"resolve": {"api.provider.test": fake.hostport}}}}
    )

    def rotate(rec: Recorded) -> Reply:
        key.write_text("k2")
        return UNAUTHORIZED

    fake.queue(rotate)
    r = httpx.post(d.url + "/v1/messages", json=BODY, headers={"x-api-key": SENT + "p"}, timeout=30)
    assert r.status_code == 200, r.text
    assert [rec.headers["x-api-key"] for rec in fake.received] == ["k1", "k2"]
    assert fake.last().headers["host"] == "api.provider.test"


def test_401_then_streamed_replay_same_format(
    fake: FakeProvider, oauth: FakeOAuth, start: Callable[..., DaemonProcess], tmp_path: Path
) -> None:
    creds = write_creds(tmp_path / "c.json", claude_creds("stale", expires_in=3600))
    d = start({"anthropic": oauth_provider(fake, creds, oauth)})
    fake.queue(UNAUTHORIZED)
    client = anthropic.Anthropic(base_url=d.url, api_key=SENT + "anthropic", max_retries=0)
    with client.messages.stream(**BODY) as s:
        final = s.get_final_message()
    assert final.content[0].type == "text" and final.content[0].text
    assert [bearer(r) for r in fake.received] == ["stale", "access-1"]
