"""CredentialsAddon: hands the daemon's credential registry to the inject_auth hook
(hooks get only the flow's Context) and keeps resolved credentials out of the logs.

It must sit before the inbound hook stage: the registry is bound to the task that
runs this flow's request event, which is the task the hook stages run in.
"""

from __future__ import annotations

from mitmproxy import http

from ccproxy.flows import meta
from ccproxy.providers.redact import SecretFilter, install_log_filter, remove_log_filter
from ccproxy.providers.registry import CredentialRegistry, bind_registry


class CredentialsAddon:
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

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or flow.metadata.get(meta.CONTROL):
            return
        bind_registry(self.registry)
