"""CredentialsAddon: resolves every credential source once at start-up (so a broken
source shows in the log before a request needs it) and keeps resolved credentials out
of the logs. The hooks reach the registry as `ctx.services["credentials"]`."""

from __future__ import annotations

import asyncio
import logging

from ccproxy.addons.failsafe import fail_closed
from ccproxy.providers.errors import AuthConfigError
from ccproxy.providers.redact import SecretFilter, install_log_filter, remove_log_filter
from ccproxy.providers.registry import CredentialRegistry

log = logging.getLogger(__name__)


@fail_closed  # routes, converts or injects: an exception answers an error, never forwards
class CredentialsAddon:
    def __init__(self, registry: CredentialRegistry) -> None:
        self.registry = registry
        self._filter: SecretFilter | None = None
        self._warmup: asyncio.Task[None] | None = None

    def running(self) -> None:
        # Logging is configured before the master starts; from here on every handler
        # replaces the exact credential values this registry has handed out.
        if self._filter is None:
            self._filter = install_log_filter(self.registry.secrets)
        if self._warmup is None and self.registry.sources:
            self._warmup = asyncio.get_running_loop().create_task(self.warm_up())

    async def warm_up(self) -> None:
        """Resolve every source once at startup (OAuth: refresh if due) so that a broken
        source shows in the log before the first request needs it. Failures are not fatal:
        the request that needs the provider gets the error."""
        names = list(self.registry.sources)
        results = await asyncio.gather(*(self.registry.resolve(n) for n in names), return_exceptions=True)
        for name, result in zip(names, results, strict=True):
            if isinstance(result, AuthConfigError):
                log.warning("credentials: %s", result.log_text)
            elif isinstance(result, BaseException):
                log.warning("credentials: provider %r: %s: %s", name, type(result).__name__, result)
            else:
                log.info("credentials: provider %r ready (%s)", name, self.registry.sources[name].kind)

    def done(self) -> None:
        if self._warmup is not None and not self._warmup.done():
            self._warmup.cancel()
        if self._filter is not None:
            remove_log_filter(self._filter)
            self._filter = None
