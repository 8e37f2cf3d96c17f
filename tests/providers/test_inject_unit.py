"""inject_auth on real mitmproxy flows (no daemon): error redaction and re-routing."""

from __future__ import annotations

from pathlib import Path

import pytest
from mitmproxy import http
from mitmproxy.test import tflow

from ccproxy.config.models import Provider
from ccproxy.flows import meta
from ccproxy.providers.errors import AuthConfigError
from ccproxy.providers.inject import inject_auth, inject_for_route
from ccproxy.providers.registry import CredentialRegistry

SENT = "sk-ant-oat-ccproxy-"
SECRET = "secret-xyz-1234567890"


def flow(headers: dict[str, str]) -> http.HTTPFlow:
    f = tflow.tflow()
    f.request.path = "/v1/messages"
    f.request.headers.clear()
    for k, v in headers.items():
        f.request.headers[k] = v
    f.metadata[meta.CLIENT_WIRE] = "anthropic"
    return f


async def test_error_messages_never_carry_a_resolved_credential(tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    # First call prints the key; later calls fail with a message that quotes it (as some CLIs do).
    cmd = f"if [ -f {flag} ]; then echo 'token {SECRET} expired' >&2; exit 1; else touch {flag}; printf {SECRET}; fi"
    reg = CredentialRegistry(
        {"p": Provider.model_validate({"type": "anthropic", "host": "h", "auth": {"type": "command", "command": cmd}})}
    )
    ok = flow({"x-api-key": SENT + "p"})
    assert await inject_auth(ok, reg)
    assert ok.request.headers["x-api-key"] == SECRET
    bad = flow({"x-api-key": SENT + "p"})
    with pytest.raises(AuthConfigError) as e:
        await inject_auth(bad, reg)
    assert str(e.value) == "ccproxy: provider 'p': auth command exited with status 1 (its stderr is in the ccproxy log)"
    assert e.value.detail == "stderr: token <redacted> expired"
    assert "x-api-key" not in bad.request.headers  # the sentinel is gone even on failure


async def test_rule_reroute_drops_the_other_providers_credential() -> None:
    providers = {
        "a": Provider.model_validate(
            {"type": "anthropic", "host": "a", "auth": {"type": "command", "command": "printf key-of-a-000"}}
        ),
        "b": Provider.model_validate({"type": "openai", "host": "b"}),  # no auth
        "c": Provider.model_validate(
            {"type": "openai", "host": "c", "header": "api-key", "auth": {"type": "command", "command": "printf key-c"}}
        ),
    }
    reg = CredentialRegistry(providers)
    f = flow({"x-api-key": SENT + "a"})
    assert await inject_auth(f, reg)
    await inject_for_route(f, reg, "c", providers["c"])
    assert f.request.headers["api-key"] == "key-c" and "x-api-key" not in f.request.headers
    assert f.metadata[meta.CREDENTIAL_HEADER] == "api-key"
    await inject_for_route(f, reg, "b", providers["b"])
    assert "api-key" not in f.request.headers and f.metadata[meta.CREDENTIAL_INJECTED] is False


async def test_reroute_auth_failure_answers_in_client_wire() -> None:
    providers = {
        "x": Provider.model_validate(
            {"type": "gemini", "host": "x", "auth": {"type": "file", "file_path": "/nonexistent/key"}}
        )
    }
    f = flow({"x-api-key": "client-own"})
    await inject_for_route(f, CredentialRegistry(providers), "x", providers["x"])
    assert f.response is not None and f.response.status_code == 502
    assert f.response.json()["type"] == "error"  # the Anthropic client's format
    assert "cannot read auth file /nonexistent/key" in f.response.json()["error"]["message"]
