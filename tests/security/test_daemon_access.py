"""Local access through the real daemon: DNS rebinding (foreign Host), cross-origin pages,
the local token, another local user, a non-loopback bind, `DELETE /flows/`."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ccproxy.providers.sentinel import PREFIX
from tests.support.daemon import DaemonProcess, provider_entry
from tests.support.fake_provider import FakeProvider

KEYS = {"anthropic": "real-anthropic-access-key-5555", "gemini": "real-gemini-access-key-6666"}
ALLOWED = "http://localhost:3000"
EVIL = "https://evil.example"
MESSAGES = {"model": "claude-test", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
GEMINI = '{"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}'


def _need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} not found (install the {package} package)")
    return path


@pytest.fixture(scope="module")
def ad(shared_fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    keys = tmp_path_factory.mktemp("keys")
    providers: dict[str, Any] = {}
    for name in ("anthropic", "gemini"):
        (keys / name).write_text(KEYS[name])
        providers[name] = provider_entry(
            shared_fake.hostport, name, auth={"type": "file", "file_path": str(keys / name)}
        )
    providers["openai"] = provider_entry(shared_fake.hostport, "openai")
    providers["openai_responses"] = provider_entry(shared_fake.hostport, "openai_responses")
    config = {"ccproxy": {"providers": providers, "inspector": {"allow_origins": [ALLOWED]}}}
    d = DaemonProcess(tmp_path_factory.mktemp("access"), config)
    d.start(timeout=90)
    # One flow with an injected key, so there is something to reveal.
    r = httpx.post(d.url + "/v1/messages", json=MESSAGES, headers={"x-api-key": PREFIX + "anthropic"}, trust_env=False)
    assert r.status_code == 200 and shared_fake.last().headers["x-api-key"] == KEYS["anthropic"]
    yield d
    d.stop()


def _flow_id(d: DaemonProcess) -> str:
    return str(d.flows()[0]["id"])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/flows?reveal=1"),
        ("GET", "/flows"),
        ("GET", "/health"),
        ("DELETE", "/flows"),
        ("GET", "/flows/{id}?reveal=1"),
        ("DELETE", "/flows/{id}"),
    ],
)
def test_foreign_host_is_refused(ad: DaemonProcess, method: str, path: str) -> None:
    """DNS rebinding: a page under its own name reaches 127.0.0.1; its Host gives it away.
    The token does not help it: it could not have read it."""
    curl = _need("curl", "curl")
    before = len(ad.flows())
    url = ad.url + path.format(id=_flow_id(ad))
    for host in ("evil.example.com", f"evil.example.com:{ad.port}", f"127.0.0.1:{ad.port + 1}"):
        r = subprocess.run(
            [curl, "-sS", "-X", method, "-H", f"Host: {host}", "-w", "\n%{http_code}", url, *_token_args(ad)],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        body, _, code = r.stdout.rpartition("\n")
        assert code == "403", (host, r.stdout)
        assert KEYS["anthropic"] not in body and "loopback Host" in body
    assert len(ad.flows()) == before  # nothing deleted


def _token_args(d: DaemonProcess) -> list[str]:
    return [arg for k, v in d.token_headers().items() for arg in ("-H", f"{k}: {v}")]


def test_reveal_and_delete_need_the_token(ad: DaemonProcess) -> None:
    for path in ("/flows?reveal=1", f"/flows/{_flow_id(ad)}?reveal=1"):
        r = httpx.get(ad.url + path, trust_env=False)
        assert r.status_code == 401 and KEYS["anthropic"] not in r.text
        assert "x-ccproxy-token" in r.json()["error"]
    wrong = httpx.get(ad.url + "/flows?reveal=1", headers={"x-ccproxy-token": "guess"}, trust_env=False)
    assert wrong.status_code == 401
    token = ad.token_headers()["x-ccproxy-token"]
    bearer = httpx.get(ad.url + "/flows?reveal=1", headers={"authorization": f"Bearer {token}"}, trust_env=False)
    # Revealed is what the store kept: the injected key as a marker (flows.store_secrets is off).
    assert bearer.status_code == 200 and "<injected:anthropic>" in bearer.text
    assert KEYS["anthropic"] not in bearer.text
    assert httpx.delete(ad.url + "/flows", params={"ids": "nope"}, trust_env=False).status_code == 401
    # Without reveal, nothing secret is asked for: no token needed, keys redacted.
    plain = httpx.get(ad.url + "/flows", trust_env=False)
    assert plain.status_code == 200 and KEYS["anthropic"] not in plain.text
    # The CLI reads the token file itself.
    dump = ad.cli("flows", "dump", "--reveal-secrets")
    assert dump.returncode == 0 and "<injected:anthropic>" in dump.stdout


def test_delete_with_empty_id_is_404(ad: DaemonProcess) -> None:
    before = len(ad.flows())
    r = httpx.delete(ad.url + "/flows/", headers=ad.token_headers(), trust_env=False)
    assert r.status_code == 404
    assert httpx.get(ad.url + "/flows/", trust_env=False).status_code == 404
    assert len(ad.flows()) == before


def test_cross_origin_simple_post_never_reaches_upstream(ad: DaemonProcess, shared_fake: FakeProvider) -> None:
    """What any web page can send without a CORS preflight: text/plain, the sentinel in ?key=."""
    curl = _need("curl", "curl")
    before = len(shared_fake.received)
    url = f"{ad.url}/v1beta/models/gemini-test:generateContent?key={PREFIX}gemini"
    r = subprocess.run(
        [curl, "-sS", "-X", "POST", "-H", "content-type: text/plain", "-H", f"Origin: {EVIL}",
         "--data", GEMINI, "-w", "\n%{http_code}", url],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    body, _, code = r.stdout.rpartition("\n")
    assert code == "403"
    assert '"PERMISSION_DENIED"' in body and "inspector.allow_origins" in body  # Gemini's error format
    assert len(shared_fake.received) == before


def _anthropic(d: DaemonProcess, origin: str) -> None:
    import anthropic

    client = anthropic.Anthropic(
        base_url=d.url, api_key=PREFIX + "anthropic", max_retries=0, default_headers={"origin": origin}
    )
    client.messages.create(**MESSAGES)


def _openai(d: DaemonProcess, origin: str) -> None:
    import openai

    client = openai.OpenAI(
        base_url=d.url + "/v1", api_key="sk-client", max_retries=0, default_headers={"origin": origin}
    )
    client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])


def _responses(d: DaemonProcess, origin: str) -> None:
    import openai

    client = openai.OpenAI(
        base_url=d.url + "/v1", api_key="sk-client", max_retries=0, default_headers={"origin": origin}
    )
    client.responses.create(model="gpt-test", input="hi")


def _gemini(d: DaemonProcess, origin: str) -> None:
    from google import genai
    from google.genai import types

    client = genai.Client(
        api_key=PREFIX + "gemini",
        http_options=types.HttpOptions(base_url=d.url, headers={"origin": origin}),
    )
    client.models.generate_content(model="gemini-test", contents="hi")


def _permission_denied(wire: str) -> type[BaseException]:
    if wire == "anthropic":
        import anthropic

        return anthropic.PermissionDeniedError
    if wire == "gemini":
        from google.genai import errors

        return errors.ClientError
    import openai

    return openai.PermissionDeniedError


CLIENTS = {"anthropic": _anthropic, "openai": _openai, "openai_responses": _responses, "gemini": _gemini}


@pytest.mark.parametrize("wire", list(CLIENTS))
def test_foreign_origin_is_403_in_the_clients_format(ad: DaemonProcess, shared_fake: FakeProvider, wire: str) -> None:
    before = len(shared_fake.received)
    with pytest.raises(_permission_denied(wire)) as e:
        CLIENTS[wire](ad, EVIL)
    assert "allow_origins" in str(e.value)
    if wire == "gemini":
        assert e.value.code == 403  # type: ignore[attr-defined]
    assert len(shared_fake.received) == before


@pytest.mark.parametrize("wire", list(CLIENTS))
def test_allowed_and_own_origins_pass(ad: DaemonProcess, shared_fake: FakeProvider, wire: str) -> None:
    for origin in (ALLOWED, ad.url):
        before = len(shared_fake.received)
        CLIENTS[wire](ad, origin)
        assert len(shared_fake.received) == before + 1


def test_another_local_user_cannot_reveal(ad: DaemonProcess, tmp_path: Path) -> None:
    """flows.mitm and control.token are 0600: uid 65534 can connect to loopback, but has no token."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run a command as another user (uid 65534)")
    setpriv = _need("setpriv", "util-linux")
    curl = _need("curl", "curl")
    as_nobody = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    r = subprocess.run([*as_nobody, curl, "-sS", "-w", "\n%{http_code}", ad.url + "/flows?reveal=1"],
                       capture_output=True, text=True, timeout=30, check=True)  # fmt: skip
    body, _, code = r.stdout.rpartition("\n")
    assert code == "401" and KEYS["anthropic"] not in body
    r = subprocess.run([*as_nobody, curl, "-sS", "-X", "DELETE", "-w", "\n%{http_code}", ad.url + "/flows"],
                       capture_output=True, text=True, timeout=30, check=True)  # fmt: skip
    assert r.stdout.rpartition("\n")[2] == "401"
    token = ad.state_dir / "control.token"
    cat = subprocess.run([*as_nobody, "cat", str(token)], capture_output=True, text=True, timeout=30)
    assert cat.returncode != 0 and cat.stdout == ""
    assert ad.flows()  # still there


def test_non_loopback_bind_warns_and_requires_the_token(shared_fake: FakeProvider, start_daemon: Any) -> None:
    d = start_daemon(
        {"ccproxy": {"host": "0.0.0.0", "providers": {"openai": provider_entry(shared_fake.hostport, "openai")}}}
    )
    assert "ccproxy.host '0.0.0.0' is not a loopback address" in d.logs()
    for path in ("/health", "/flows"):
        assert httpx.get(d.url + path, trust_env=False).status_code == 401
        assert httpx.get(d.url + path, headers=d.token_headers(), trust_env=False).status_code == 200
    # The CLI brings the token.
    assert d.cli("status").returncode == 0
    assert d.cli("flows", "list").returncode == 0


def test_allowed_origin_gets_cors_answers(ad: DaemonProcess, shared_fake: FakeProvider) -> None:
    """A browser app on an allowed origin: its preflight is answered, its responses readable."""
    before = len(shared_fake.received)
    pre = httpx.options(
        ad.url + "/v1/messages",
        headers={
            "origin": ALLOWED,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,x-api-key,anthropic-version",
        },
        trust_env=False,
    )
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == ALLOWED
    assert pre.headers["access-control-allow-headers"] == "content-type,x-api-key,anthropic-version"
    assert len(shared_fake.received) == before  # answered here
    r = httpx.post(
        ad.url + "/v1/messages",
        json=MESSAGES,
        headers={"origin": ALLOWED, "x-api-key": PREFIX + "anthropic"},
        trust_env=False,
    )
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ALLOWED
    # A foreign origin's preflight is refused like its request; the own origin needs no CORS.
    evil = httpx.options(
        ad.url + "/v1/messages", headers={"origin": EVIL, "access-control-request-method": "POST"}, trust_env=False
    )
    assert evil.status_code == 403 and "access-control-allow-origin" not in evil.headers
    own = httpx.post(ad.url + "/v1/messages", json=MESSAGES, headers={"origin": ad.url}, trust_env=False)
    assert own.status_code == 200 and "access-control-allow-origin" not in own.headers
