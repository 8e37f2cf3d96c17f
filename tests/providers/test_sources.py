"""Auth sources in-process: command/file errors, OAuth refresh rules per vendor file."""

from __future__ import annotations

import asyncio
import base64
import json
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from ccproxy.config.models import AnthropicOAuth, CodexOAuth, CommandAuth, FileAuth, GoogleOAuth
from ccproxy.providers.auth import CommandSource, FileSource
from ccproxy.providers.errors import AuthConfigError
from ccproxy.providers.oauth import AnthropicOAuthSource, CodexOAuthSource, GoogleOAuthSource
from tests.providers.conftest import claude_creds, write_creds
from tests.support.fake_oauth import FakeOAuth


@pytest.mark.parametrize(
    ("command", "timeout", "expected"),
    [
        ("printf '  tok-123\\n'", 5, "tok-123"),
        ("echo line1; echo ignored >&2", 5, "line1"),
    ],
)
async def test_command_ok(command: str, timeout: float, expected: str) -> None:
    src = CommandSource("p", CommandAuth(type="command", command=command, timeout=timeout))
    assert (await src.resolve()).token == expected


@pytest.mark.parametrize(
    ("command", "timeout", "message", "detail", "status"),
    [
        (
            "echo 'vault: permission denied' >&2; echo more >&2; exit 1",
            5,
            "provider 'p': auth command exited with status 1 (its stderr is in the ccproxy log)",
            "stderr: vault: permission denied",
            502,
        ),
        (
            "exit 3",
            5,
            "provider 'p': auth command exited with status 3 (its stderr is in the ccproxy log)",
            "stderr: no output on stderr",
            502,
        ),
        ("printf '   \\n'", 5, "provider 'p': auth command printed nothing", "", 502),
        (
            "echo 'DEEPSEEK_API_KEY unset' >&2",
            5,
            "provider 'p': auth command printed nothing",
            "stderr: DEEPSEEK_API_KEY unset",
            502,
        ),
        ("sleep 30", 0.5, "provider 'p': auth command timed out after 0.5s", "", 502),
    ],
)
async def test_command_failures(command: str, timeout: float, message: str, detail: str, status: int) -> None:
    src = CommandSource("p", CommandAuth(type="command", command=command, timeout=timeout))
    start = time.monotonic()
    with pytest.raises(AuthConfigError) as e:
        await src.resolve()
    # The command's stderr (which may echo a secret) is for the log only, never the message.
    assert str(e.value) == message
    assert e.value.detail == detail
    assert e.value.status == status and e.value.provider == "p"
    assert time.monotonic() - start < 5  # the timeout kills the shell and its children


async def test_command_timeout_kills_children(tmp_path: Path) -> None:
    marker = tmp_path / "still-running"
    cmd = f"(sleep 1.5; touch {marker}) & wait"
    src = CommandSource("p", CommandAuth(type="command", command=cmd, timeout=0.3))
    with pytest.raises(AuthConfigError):
        await src.resolve()
    await asyncio.sleep(2)
    assert not marker.exists()


async def test_file_source_rereads_every_time(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("first\n")
    src = FileSource("p", FileAuth(type="file", file_path=str(key)))
    assert (await src.resolve()).token == "first"
    key.write_text("second")
    assert (await src.resolve()).token == "second"
    key.write_text("\n")
    with pytest.raises(AuthConfigError, match=r"auth file .* is empty"):
        await src.resolve()
    key.unlink()
    with pytest.raises(AuthConfigError, match=r"cannot read auth file .*: No such file or directory"):
        await src.resolve()


def anthropic(path: Path, oauth: FakeOAuth, **kw: Any) -> AnthropicOAuthSource:
    cfg = AnthropicOAuth(type="anthropic_oauth", file_path=str(path), token_url=oauth.url, **kw)
    return AnthropicOAuthSource("anthropic", cfg)


async def test_fresh_token_is_used_without_refresh(tmp_path: Path, oauth: FakeOAuth) -> None:
    path = write_creds(tmp_path / "c.json", claude_creds("live", expires_in=3600))
    assert (await anthropic(path, oauth).resolve()).token == "live"
    assert oauth.requests == []


@pytest.mark.parametrize("ms", [True, False])
async def test_refresh_inside_60s_window(tmp_path: Path, oauth: FakeOAuth, ms: bool) -> None:
    path = write_creds(tmp_path / "c.json", claude_creds("about-to-expire", expires_in=30, ms=ms))
    before = time.time()
    assert (await anthropic(path, oauth).resolve()).token == "access-1"
    (req,) = oauth.requests
    assert req.content_type.startswith("application/json")
    assert req.body == {
        "grant_type": "refresh_token",
        "refresh_token": "refresh-0",
        "client_id": AnthropicOAuth.model_fields["client_id"].default,
    }
    data = json.loads(path.read_text())["claudeAiOauth"]
    expiry = data["expiresAt"] / 1000 if ms else data["expiresAt"]
    assert before + 3600 - 2 <= expiry <= time.time() + 3600 + 1
    assert data["refreshToken"] == "refresh-1"
    assert data["scopes"] == ["user:inference", "user:profile"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_old_refresh_token_kept_when_omitted(tmp_path: Path, oauth: FakeOAuth) -> None:
    oauth.rotate_refresh = False
    path = write_creds(tmp_path / "c.json", claude_creds())
    await anthropic(path, oauth).resolve()
    assert json.loads(path.read_text())["claudeAiOauth"]["refreshToken"] == "refresh-0"


async def test_concurrent_resolves_refresh_once(tmp_path: Path, oauth: FakeOAuth) -> None:
    oauth.delay = 0.2
    src = anthropic(write_creds(tmp_path / "c.json", claude_creds()), oauth)
    tokens = await asyncio.gather(*(src.resolve() for _ in range(20)))
    assert {t.token for t in tokens} == {"access-1"}
    assert len(oauth.requests) == 1


async def test_rejected_token_forces_refresh_once(tmp_path: Path, oauth: FakeOAuth) -> None:
    src = anthropic(write_creds(tmp_path / "c.json", claude_creds("live", expires_in=3600)), oauth)
    assert (await src.resolve()).token == "live"
    results = await asyncio.gather(*(src.resolve(rejected="live") for _ in range(5)))
    assert {r.token for r in results} == {"access-1"}
    assert len(oauth.requests) == 1


async def test_token_refreshed_by_another_tool_is_picked_up(tmp_path: Path, oauth: FakeOAuth) -> None:
    """Claude Code refreshed the shared file: a 401 on our cached token re-reads it, no refresh."""
    path = write_creds(tmp_path / "c.json", claude_creds("ours", expires_in=3600))
    src = anthropic(path, oauth)
    assert (await src.resolve()).token == "ours"
    write_creds(path, claude_creds("theirs", expires_in=3600))
    assert (await src.resolve(rejected="ours")).token == "theirs"
    assert oauth.requests == []


@pytest.mark.parametrize(
    ("status", "fail", "expected"),
    [
        (401, 400, r"OAuth refresh at .* was refused: invalid_grant: refresh token revoked; log in again"),
        (502, 500, r"OAuth refresh at .* was refused: invalid_grant"),
    ],
)
async def test_refresh_refused(tmp_path: Path, oauth: FakeOAuth, status: int, fail: int, expected: str) -> None:
    oauth.fail_status = fail
    path = write_creds(tmp_path / "c.json", claude_creds())
    original = path.read_text()
    with pytest.raises(AuthConfigError, match=expected) as e:
        await anthropic(path, oauth).resolve()
    assert e.value.status == status
    assert path.read_text() == original


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, r"credential file .* does not exist"),
        ("{not json", r"credential file .* is not valid JSON"),
        ('{"claudeAiOauth": {}}', r"has no access token at 'claudeAiOauth.accessToken'"),
    ],
)
async def test_bad_credential_files(tmp_path: Path, oauth: FakeOAuth, content: str | None, expected: str) -> None:
    path = tmp_path / "c.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(AuthConfigError, match=expected):
        await anthropic(path, oauth).resolve()


async def test_unreachable_token_endpoint(tmp_path: Path) -> None:
    from tests.support.daemon import free_port

    path = write_creds(tmp_path / "c.json", claude_creds())
    cfg = AnthropicOAuth(type="anthropic_oauth", file_path=str(path), token_url=f"http://127.0.0.1:{free_port()}/token")
    with pytest.raises(AuthConfigError, match=r"OAuth refresh at .* failed: ConnectError") as e:
        await AnthropicOAuthSource("anthropic", cfg).resolve()
    assert e.value.status == 502


async def test_google_oauth_form_and_siblings(tmp_path: Path, oauth: FakeOAuth) -> None:
    oauth.rotate_refresh = False  # Google normally omits the refresh token
    oauth.extra = {"id_token": "new-id", "scope": "s", "token_type": "Bearer"}
    creds = {
        "access_token": "ya29.old",
        "refresh_token": "1//keep",
        "expiry_date": int((time.time() - 5) * 1000),
        "id_token": "old-id",
        "scope": "https://www.googleapis.com/auth/cloud-platform",
        "token_type": "Bearer",
    }
    path = write_creds(tmp_path / "oauth_creds.json", creds)
    cfg = GoogleOAuth(type="google_oauth", file_path=str(path), token_url=oauth.url, client_secret="shh")
    assert (await GoogleOAuthSource("gemini", cfg).resolve()).token == "access-1"
    (req,) = oauth.requests
    assert req.content_type.startswith("application/x-www-form-urlencoded")
    assert req.body["client_secret"] == "shh" and req.body["refresh_token"] == "1//keep"
    data = json.loads(path.read_text())
    assert data["refresh_token"] == "1//keep" and data["id_token"] == "new-id"
    assert data["expiry_date"] > time.time() * 1000
    assert data["scope"] == creds["scope"]


def jwt(claims: dict[str, Any]) -> str:
    def b64(d: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")

    return f"{b64({'alg': 'none'})}.{b64(claims)}.sig"


async def test_codex_jwt_expiry_and_account_header(tmp_path: Path, oauth: FakeOAuth) -> None:
    account_claim = {"https://api.openai.com/auth": {"chatgpt_account_id": "acct-from-jwt"}}
    creds = {
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": "id0",
            "access_token": jwt({"exp": int(time.time()) + 3600, **account_claim}),
            "refresh_token": "rt0",
            "account_id": "acct-123",
        },
        "last_refresh": "2025-01-01T00:00:00Z",
    }
    path = write_creds(tmp_path / "auth.json", creds)
    cfg = CodexOAuth(type="codex_oauth", file_path=str(path), token_url=oauth.url)
    src = CodexOAuthSource("codex", cfg)
    cred = await src.resolve()
    assert cred.token == creds["tokens"]["access_token"]
    assert cred.headers == {"chatgpt-account-id": "acct-123"}
    assert oauth.requests == []

    # An expired JWT refreshes; the account id falls back to the JWT claim when the file lacks it.
    del creds["tokens"]["account_id"]
    creds["tokens"]["access_token"] = jwt({"exp": int(time.time()) - 1, **account_claim})
    write_creds(path, creds)
    oauth.extra = {"id_token": "id1"}
    cred = await CodexOAuthSource("codex", cfg).resolve()
    assert cred.token == "access-1"
    (req,) = oauth.requests
    assert req.body["scope"] == "openid profile email" and req.body["refresh_token"] == "rt0"
    data = json.loads(path.read_text())
    assert data["tokens"]["id_token"] == "id1" and data["tokens"]["refresh_token"] == "refresh-1"
    assert data["last_refresh"] != "2025-01-01T00:00:00Z" and data["OPENAI_API_KEY"] is None
