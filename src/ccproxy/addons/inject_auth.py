"""inject_auth as an addon (until the hook pipeline is on main): sentinel key ->
provider route + real credential. The logic is ccproxy.providers.inject."""

from __future__ import annotations

from mitmproxy import http

from ccproxy.flows import meta
from ccproxy.providers.inject import inject_auth
from ccproxy.providers.redact import SecretFilter, install_log_filter, remove_log_filter
from ccproxy.providers.registry import CredentialRegistry


class InjectAuthAddon:
    def __init__(self, registry: CredentialRegistry) -> None:
        self.registry = registry
        self._filter: SecretFilter | None = None

    def running(self) -> None:
        # Logging is configured before the master starts; from here on every handler
        # replaces the exact credential values this registry has handed out.
        if self._filter is None:
            self._filter = install_log_filter(self.registry.secrets)

    def done(self) -> None:
        if self._filter is not None:
            remove_log_filter(self._filter)
            self._filter = None

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or flow.metadata.get(meta.CONTROL):
            return
        await inject_auth(flow, self.registry)
