"""The credential registry: one auth source per configured provider, built once at
daemon start and shared by the addons that inject and refresh credentials."""

from __future__ import annotations

from collections import deque

from ccproxy.config.models import CommandAuth, FileAuth, Provider
from ccproxy.providers.auth import AuthSource, CommandSource, Credential, FileSource
from ccproxy.providers.errors import AuthConfigError
from ccproxy.providers.oauth import OAUTH_SOURCES

# Enough to cover every token a long-running daemon has injected recently.
_SECRETS_KEPT = 256


def build_source(provider: str, p: Provider) -> AuthSource | None:
    auth = p.auth
    if auth is None:
        return None
    if isinstance(auth, CommandAuth):
        return CommandSource(provider, auth)
    if isinstance(auth, FileAuth):
        return FileSource(provider, auth)
    return OAUTH_SOURCES[type(auth)](provider, auth)


class CredentialRegistry:
    def __init__(self, providers: dict[str, Provider]) -> None:
        self.providers = providers
        self.sources: dict[str, AuthSource] = {}
        for name, p in providers.items():
            source = build_source(name, p)
            if source is not None:
                self.sources[name] = source
        self._seen: deque[str] = deque(maxlen=_SECRETS_KEPT)

    def source(self, provider: str) -> AuthSource | None:
        return self.sources.get(provider)

    async def resolve(self, provider: str, *, rejected: str | None = None) -> Credential:
        source = self.sources.get(provider)
        if source is None:
            raise AuthConfigError(
                f"provider {provider!r} has no `auth:` configured, so ccproxy has no credential to inject",
                provider=provider,
                status=502,
            )
        cred = await source.resolve(rejected=rejected)
        self.remember(cred.token)
        return cred

    def remember(self, secret: str) -> None:
        if secret not in self._seen:
            self._seen.append(secret)

    def secrets(self) -> list[str]:
        """Every credential value resolved so far, for redaction."""
        return list(self._seen)
