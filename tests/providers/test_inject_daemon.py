"""Sentinel keys through the real daemon: every slot, routing by name, errors in the
client's wire format, and nothing internal reaching the upstream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ccproxy.answers import error_response
from tests.support.daemon import DaemonProcess, provider_entry
from tests.support.fake_provider import FakeProvider

SENT = "sk-ant-oat-ccproxy-"
REAL = {
    "anthropic": "real-anthropic-key-0001",
    "openai": "real-openai-key-0002",
    "gemini": "real-gemini-key-0003",
    "deepseek": "real-deepseek-key-0004",
}


CUSTOM_SECRET = "zz-custom-secret-value-9876"


def auth_cmd(value: str) -> dict[str, Any]:
    return {"type": "command", "command": f"printf %s {value}"}


def providers(fake: FakeProvider, **extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "anthropic": provider_entry(fake.hostport, "anthropic", auth=auth_cmd(REAL["anthropic"])),
        "openai": provider_entry(fake.hostport, "openai", auth=auth_cmd(REAL["openai"])),
        "gemini": provider_entry(fake.hostport, "gemini", auth=auth_cmd(REAL["gemini"])),
        "deepseek": provider_entry(
            fake.hostport, "anthropic", path="/anthropic/v1/messages", auth=auth_cmd(REAL["deepseek"])
        ),
        "broken": provider_entry(
            fake.hostport, "anthropic", auth={"type": "command", "command": "echo 'op: not signed in' >&2; exit 1"}
        ),
        "plain": provider_entry(fake.hostport, "openai"),
        "custom": provider_entry(fake.hostport, "openai", header="x-custom-auth", auth=auth_cmd(CUSTOM_SECRET)),
        **extra,
    }


@pytest.fixture(scope="module")
def mfake(shared_fake: FakeProvider) -> FakeProvider:
    return shared_fake


@pytest.fixture(scope="module")
def pd(mfake: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """One daemon for the module: the four providers plus DeepSeek, credentials from commands."""
    d = DaemonProcess(tmp_path_factory.mktemp("pd"), {"ccproxy": {"log_level": "DEBUG", "providers": providers(mfake)}})
    d.start(timeout=90)  # the machine is shared; imports alone can take seconds
    yield d
    d.stop()


def assert_no_sentinel(rec: Any) -> None:
    assert SENT not in rec.path
    assert all(SENT not in v for v in rec.headers.values()), rec.headers
    assert SENT.encode() not in rec.body
    assert not any(k.startswith("x-ccproxy-") for k in rec.headers)


ANTHROPIC_BODY = {"model": "claude-test", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
OPENAI_BODY = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}
GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
GEMINI_PATH = "/v1beta/models/gemini-test:generateContent"


@pytest.mark.parametrize(
    ("path", "headers", "body", "provider", "want_header", "want_value", "want_path"),
    [
        ("/v1/messages", {"x-api-key": SENT + "anthropic"}, ANTHROPIC_BODY, "anthropic", "x-api-key",
         REAL["anthropic"], "/v1/messages"),
        ("/v1/chat/completions", {"authorization": f"Bearer {SENT}openai"}, OPENAI_BODY, "openai",
         "authorization", f"Bearer {REAL['openai']}", "/v1/chat/completions"),
        (GEMINI_PATH, {"x-goog-api-key": SENT + "gemini"}, GEMINI_BODY, "gemini", "x-goog-api-key",
         REAL["gemini"], GEMINI_PATH),
        (f"{GEMINI_PATH}?alt=sse&key={SENT}gemini", {}, GEMINI_BODY, "gemini", "x-goog-api-key",
         REAL["gemini"], f"{GEMINI_PATH}?alt=sse"),
        # The sentinel picks the provider: Messages to DeepSeek's /anthropic prefix.
        ("/v1/messages?beta=true", {"x-api-key": SENT + "deepseek"}, ANTHROPIC_BODY, "deepseek", "x-api-key",
         REAL["deepseek"], "/anthropic/v1/messages?beta=true"),
        # Anthropic SDK with an auth_token sends Bearer; the provider's own slot is used upstream.
        ("/v1/messages", {"authorization": f"Bearer {SENT}anthropic"}, ANTHROPIC_BODY, "anthropic", "x-api-key",
         REAL["anthropic"], "/v1/messages"),
    ],
)  # fmt: skip
def test_sentinel_in_each_slot(
    pd: DaemonProcess,
    mfake: FakeProvider,
    path: str,
    headers: dict[str, str],
    body: dict[str, Any],
    provider: str,
    want_header: str,
    want_value: str,
    want_path: str,
) -> None:
    r = httpx.post(pd.url + path, json=body, headers=headers, timeout=10, trust_env=False)
    assert r.status_code == 200, r.text
    rec = mfake.last()
    assert rec.headers[want_header] == want_value
    assert rec.path == want_path
    assert_no_sentinel(rec)
    # Only the provider's slot carries a credential.
    others = {"x-api-key", "authorization", "x-goog-api-key"} - {want_header}
    assert not others & rec.headers.keys()
    flow = pd.flows()[-1]
    assert flow["ccproxy"]["provider"] == provider


def test_client_key_without_sentinel_passes_through(pd: DaemonProcess, mfake: FakeProvider) -> None:
    r = httpx.post(pd.url + "/v1/messages", json=ANTHROPIC_BODY, headers={"x-api-key": "sk-ant-own"}, timeout=10)
    assert r.status_code == 200
    assert mfake.last().headers["x-api-key"] == "sk-ant-own"


@pytest.mark.parametrize(
    ("path", "headers", "body", "check"),
    [
        ("/v1/messages", {"x-api-key": SENT + "nope"}, ANTHROPIC_BODY,
         lambda j: j["type"] == "error" and j["error"]["type"] == "authentication_error" and j["error"]["message"]),
        ("/v1/chat/completions", {"authorization": f"Bearer {SENT}nope"}, OPENAI_BODY,
         lambda j: j["error"]["code"] == "invalid_api_key" and j["error"]["message"]),  # as OpenAI's own 401
        (GEMINI_PATH + f"?key={SENT}nope", {}, GEMINI_BODY,
         lambda j: j["error"]["status"] == "UNAUTHENTICATED" and j["error"]["message"]),
    ],
)  # fmt: skip
def test_unknown_provider_is_401_in_client_wire(
    pd: DaemonProcess, mfake: FakeProvider, path: str, headers: dict[str, str], body: Any, check: Any
) -> None:
    before = len(mfake.received)
    r = httpx.post(pd.url + path, json=body, headers=headers, timeout=10, trust_env=False)
    assert r.status_code == 401
    message = check(r.json())
    assert "'nope'" in message
    assert "configured providers: anthropic, broken, custom, deepseek, gemini, openai, plain" in message
    assert len(mfake.received) == before


def test_auth_failure_is_502_and_never_forwards(pd: DaemonProcess, mfake: FakeProvider) -> None:
    before = len(mfake.received)
    r = httpx.post(pd.url + "/v1/messages", json=ANTHROPIC_BODY, headers={"x-api-key": SENT + "broken"}, timeout=10)
    assert r.status_code == 502
    # The command's stderr stays in the log: a client or /flows never sees it.
    assert r.json()["error"]["message"] == (
        "ccproxy: provider 'broken': auth command exited with status 1 (its stderr is in the ccproxy log)"
    )
    assert len(mfake.received) == before
    assert "exited with status 1 (its stderr is in the ccproxy log): stderr: op: not signed in" in pd.logs()
    flow = pd.flows()[-1]
    assert SENT not in json.dumps(flow)
    assert "not signed in" not in httpx.get(pd.url + "/flows?bodies=1", trust_env=False).text


def test_provider_without_auth_is_502(pd: DaemonProcess, mfake: FakeProvider) -> None:
    before = len(mfake.received)
    r = httpx.post(
        pd.url + "/v1/chat/completions", json=OPENAI_BODY, headers={"authorization": f"Bearer {SENT}plain"}, timeout=10
    )
    # ccproxy's own errors keep the status it chose in every wire format: 502, no credential.
    assert r.status_code == error_response("openai", 502, "x").status_code == 502
    assert r.json()["error"]["type"] == "server_error"
    assert "provider 'plain' has no `auth:` configured" in r.json()["error"]["message"]
    assert len(mfake.received) == before


def test_egress_strips_internal_headers_and_stray_sentinels(pd: DaemonProcess, mfake: FakeProvider) -> None:
    """A client (or hook) that puts sentinels and x-ccproxy-* where inject_auth does not look."""
    r = httpx.post(
        pd.url + "/v1/messages?trace=" + SENT + "anthropic&keep=1",
        json=ANTHROPIC_BODY,
        headers={
            "x-api-key": SENT + "anthropic",
            "x-ccproxy-hooks": "-verbose_mode",
            "x-ccproxy-debug": "1",
            "x-forwarded-key": f"{SENT}openai",
            "cookie": f"k={SENT}gemini",
        },
        timeout=10,
        trust_env=False,
    )
    assert r.status_code == 200
    rec = mfake.last()
    assert_no_sentinel(rec)
    assert rec.path == "/v1/messages?keep=1"
    assert rec.headers["x-api-key"] == REAL["anthropic"]
    assert "x-forwarded-key" not in rec.headers and "cookie" not in rec.headers
    assert "egress: stripped" in pd.logs()


def test_resolved_credentials_are_redacted(pd: DaemonProcess, mfake: FakeProvider) -> None:
    """`custom` puts its key in a header no generic rule treats as secret; the value still
    never shows in /flows (even with bodies) or in the DEBUG log."""
    r = httpx.post(
        pd.url + "/v1/chat/completions", json=OPENAI_BODY, headers={"authorization": f"Bearer {SENT}custom"}, timeout=10
    )
    assert r.status_code == 200
    assert mfake.last().headers["x-custom-auth"] == CUSTOM_SECRET
    flows = httpx.get(pd.url + "/flows", params={"bodies": "1"}, timeout=10, trust_env=False).text
    assert CUSTOM_SECRET not in flows
    assert '"x-custom-auth": "<redacted>"' in flows
    logs = pd.logs() + "".join(p.read_text() for p in pd.config_dir.glob("*.log"))
    assert "request headers" in logs  # DEBUG header dumps were written...
    for value in (CUSTOM_SECRET, *REAL.values()):
        assert value not in logs  # ...without any resolved credential
