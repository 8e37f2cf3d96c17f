"""OAuth sources that own the refresh lifecycle of a credential file shared with a
vendor CLI (Claude Code, gemini-cli, Codex CLI).

Concurrency: an asyncio lock per source makes concurrent flows wait for one
refresh; an flock on a sidecar lock file does the same across processes, so
ccproxy and the vendor's CLI (or a second ccproxy) never both spend the same
refresh token. The blocking part (lock, read, HTTP, write) runs in a worker
thread, off the proxy's event loop.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from ccproxy.config.models import AnthropicOAuth, CodexOAuth, GoogleOAuth, OAuthBase
from ccproxy.providers import credfile
from ccproxy.providers.auth import AuthSource, Credential


@dataclass(slots=True)
class Tokens:
    access: str
    expires_at: float | None  # epoch seconds; None = unknown (trust until a 401)
    headers: dict[str, str] = field(default_factory=dict)

    def fresh(self, margin: float, now: float | None = None) -> bool:
        if self.expires_at is None:
            return True
        return self.expires_at - margin > (now if now is not None else time.time())


class OAuthSource(AuthSource):
    refreshable = True
    # Token endpoint body encoding: Anthropic and OpenAI take JSON, Google takes a form.
    form_encoded: ClassVar[bool] = False

    def __init__(self, provider: str, cfg: OAuthBase, *, http_timeout: float = 30.0) -> None:
        super().__init__(provider)
        self.cfg = cfg
        self.path = Path(cfg.file_path).expanduser()
        self.http_timeout = http_timeout
        self._lock = asyncio.Lock()
        self._cached: Tokens | None = None
        self.refreshes = 0  # refreshes this process performed (for status/tests)

    # --- the interface -----------------------------------------------------

    async def resolve(self, *, rejected: str | None = None) -> Credential:
        if (c := self._usable(self._cached, rejected)) is not None:
            return c
        async with self._lock:
            # Whoever held the lock may just have refreshed: check again before doing it too.
            if (c := self._usable(self._cached, rejected)) is not None:
                return c
            tokens = await asyncio.to_thread(self.load_or_refresh, rejected)
            self._cached = tokens
            return Credential(tokens.access, dict(tokens.headers))

    def _usable(self, tokens: Tokens | None, rejected: str | None) -> Credential | None:
        if tokens is None or tokens.access == rejected or not tokens.fresh(self.cfg.refresh_margin):
            return None
        return Credential(tokens.access, dict(tokens.headers))

    # --- blocking part (worker thread) -------------------------------------

    def load_or_refresh(self, rejected: str | None = None) -> Tokens:
        try:
            with credfile.file_lock(self.path):
                data = self._read()
                tokens = self.tokens_from(data)
                # Another process may have refreshed since our token was refused: use its token.
                if tokens.access and tokens.access != rejected and tokens.fresh(self.cfg.refresh_margin):
                    return tokens
                refresh = credfile.get_path(data, self.cfg.refresh_path)
                if not isinstance(refresh, str) or not refresh:
                    raise self.error(
                        f"{self.path} has no refresh token at {self.cfg.refresh_path!r}; "
                        "log in again with the vendor CLI",
                        status=401,
                    )
                payload = self._post_refresh(refresh)
                new_data = credfile.with_updates(data, self.updates(data, payload))
                credfile.atomic_write_json(self.path, new_data)
                self.refreshes += 1
                return self.tokens_from(new_data)
        except OSError as e:
            raise self.error(f"cannot use credential file {self.path}: {e.strerror or e}") from e

    def _read(self) -> dict[str, Any]:
        try:
            return credfile.read_json(self.path)
        except FileNotFoundError:
            raise self.error(f"credential file {self.path} does not exist (log in with the vendor CLI first)") from None
        except ValueError as e:
            raise self.error(f"credential file {self.path} is not valid JSON: {e}") from e

    def tokens_from(self, data: dict[str, Any]) -> Tokens:
        access = credfile.get_path(data, self.cfg.access_path)
        if not isinstance(access, str) or not access:
            raise self.error(f"{self.path} has no access token at {self.cfg.access_path!r}")
        return Tokens(access, self.expiry_of(data, access), self.extra_headers(data, access))

    def expiry_of(self, data: dict[str, Any], access: str) -> float | None:
        return credfile.expiry_seconds(credfile.get_path(data, self.cfg.expiry_path))

    def extra_headers(self, data: dict[str, Any], access: str) -> dict[str, str]:
        return {}

    def refresh_body(self, refresh_token: str) -> dict[str, str]:
        return {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": self.cfg.client_id}

    def updates(self, data: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        """Dotted path -> new value; the refresh token is kept when the endpoint omits it."""
        out: dict[str, Any] = {self.cfg.access_path: payload["access_token"]}
        if isinstance(payload.get("refresh_token"), str) and payload["refresh_token"]:
            out[self.cfg.refresh_path] = payload["refresh_token"]
        expires_in = payload.get("expires_in")
        if self.cfg.expiry_path and isinstance(expires_in, int | float):
            previous = credfile.get_path(data, self.cfg.expiry_path)
            out[self.cfg.expiry_path] = credfile.expiry_like(previous, time.time() + float(expires_in))
        return out

    def _post_refresh(self, refresh_token: str) -> dict[str, Any]:
        body = self.refresh_body(refresh_token)
        url = self.cfg.token_url
        import httpx  # here: a worker thread, and only for daemons that refresh OAuth tokens

        try:
            with httpx.Client(timeout=self.http_timeout) as client:
                if self.form_encoded:
                    r = client.post(url, data=body, headers={"accept": "application/json"})
                else:
                    r = client.post(url, json=body, headers={"accept": "application/json"})
        except httpx.HTTPError as e:
            raise self.error(f"OAuth refresh at {url} failed: {type(e).__name__}: {e}") from e
        try:
            payload = r.json()
        except ValueError:
            payload = None
        if r.status_code != 200 or not isinstance(payload, dict) or not payload.get("access_token"):
            reason = _oauth_error(payload) or f"HTTP {r.status_code}"
            # 400/401 from a token endpoint means the grant is dead: only a new login helps.
            status = 401 if r.status_code in (400, 401) else 502
            hint = "; log in again with the vendor CLI" if status == 401 else ""
            raise self.error(f"OAuth refresh at {url} was refused: {reason}{hint}", status=status)
        return payload


def _oauth_error(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    err = payload.get("error")
    if isinstance(err, dict):
        err = err.get("message") or err.get("type")
    desc = payload.get("error_description")
    parts = [str(p) for p in (err, desc) if p]
    return ": ".join(parts) or None


class AnthropicOAuthSource(OAuthSource):
    kind = "anthropic_oauth"


class GoogleOAuthSource(OAuthSource):
    kind = "google_oauth"
    form_encoded = True

    def refresh_body(self, refresh_token: str) -> dict[str, str]:
        body = super().refresh_body(refresh_token)
        secret = getattr(self.cfg, "client_secret", None)
        if secret:
            body["client_secret"] = secret
        return body

    def updates(self, data: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        out = super().updates(data, payload)
        # gemini-cli keeps the id_token next to the access token; keep it current too.
        if isinstance(payload.get("id_token"), str) and "id_token" in data:
            out["id_token"] = payload["id_token"]
        return out


def jwt_claims(token: str) -> dict[str, Any]:
    """Unverified JWT payload: only read for our own token's expiry and account id."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(raw)
    except ValueError:
        return {}
    return claims if isinstance(claims, dict) else {}


class CodexOAuthSource(OAuthSource):
    """Codex CLI's ChatGPT login (~/.codex/auth.json): no expiry field, the access
    token is a JWT; its backend wants the ChatGPT account id in a header."""

    kind = "codex_oauth"
    cfg: CodexOAuth

    def expiry_of(self, data: dict[str, Any], access: str) -> float | None:
        if self.cfg.expiry_path:
            return super().expiry_of(data, access)
        exp = jwt_claims(access).get("exp")
        return float(exp) if isinstance(exp, int | float) else None

    def extra_headers(self, data: dict[str, Any], access: str) -> dict[str, str]:
        account = credfile.get_path(data, self.cfg.account_id_path) if self.cfg.account_id_path else None
        if not account:
            auth_claims = jwt_claims(access).get("https://api.openai.com/auth")
            account = auth_claims.get("chatgpt_account_id") if isinstance(auth_claims, dict) else None
        if isinstance(account, str) and account and self.cfg.account_header:
            return {self.cfg.account_header: account}
        return {}

    def refresh_body(self, refresh_token: str) -> dict[str, str]:
        return {**super().refresh_body(refresh_token), "scope": "openid profile email"}

    def updates(self, data: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        out = super().updates(data, payload)
        parent = self.cfg.access_path.rpartition(".")[0]
        if isinstance(payload.get("id_token"), str):
            out[f"{parent}.id_token" if parent else "id_token"] = payload["id_token"]
        if "last_refresh" in data:
            out["last_refresh"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        return out


OAUTH_SOURCES: dict[type[OAuthBase], type[OAuthSource]] = {
    AnthropicOAuth: AnthropicOAuthSource,
    GoogleOAuth: GoogleOAuthSource,
    CodexOAuth: CodexOAuthSource,
}
