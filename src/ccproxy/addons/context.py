"""State shared by the daemon's addons, passed to each explicitly."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from ccproxy.access.local import LocalAccess
from ccproxy.config.models import Config
from ccproxy.flows.store import FlowStore
from ccproxy.mcp.guard import ASGIApp
from ccproxy.mcp.notify import NotificationBuffer
from ccproxy.providers.registry import CredentialRegistry


@dataclass
class DaemonContext:
    config: Config
    store: FlowStore
    started_at: float = field(default_factory=time.time)
    # Listener facts for /health and `ccproxy status`: mode name -> listen address.
    listeners: dict[str, str] = field(default_factory=dict)
    # True once every listener is up and the addons ran their start-up: /health answers 200 only then.
    ready: bool = False
    # Features the installed mitmproxy cannot carry (mitm_compat.self_check): name -> what is missing.
    disabled: dict[str, str] = field(default_factory=dict)
    # One auth source per provider with `auth:`; built from the config, shared by inject/auth addons.
    credentials: CredentialRegistry = field(init=False)
    # Host/Origin/token policy of the local HTTP surfaces. The default token is known to nobody
    # (nothing can be revealed or deleted); the daemon replaces it with the one it wrote to disk.
    access: LocalAccess = field(default_factory=lambda: LocalAccess("127.0.0.1", secrets.token_urlsafe(32)))
    # Events from POST /mcp/notify waiting for their session's next request (inject_mcp_notifications).
    notifications: NotificationBuffer = field(init=False)
    # The MCP server's ASGI app, also served as /mcp on the proxy listener; None when mcp is off.
    mcp_app: ASGIApp | None = None

    def __post_init__(self) -> None:
        self.credentials = CredentialRegistry(self.config.ccproxy.providers)
        mcp = self.config.ccproxy.mcp
        self.notifications = NotificationBuffer(mcp.notify_ttl, mcp.notify_max_per_session)

    def delete_flows(self, ids: list[str] | None) -> int:
        """Blocking (the store's writer deletes): call off the event loop. Listeners such as
        the web UI hear about it through ``store.on_remove``."""
        return len(self.store.delete(ids))
