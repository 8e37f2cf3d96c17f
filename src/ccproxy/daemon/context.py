"""State shared by the daemon's addons, passed to each explicitly."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ccproxy.config.models import Config
from ccproxy.flows.store import FlowStore


@dataclass
class DaemonContext:
    config: Config
    store: FlowStore
    started_at: float = field(default_factory=time.time)
    # Listener facts for /health and `ccproxy status`: mode name -> listen address.
    listeners: dict[str, str] = field(default_factory=dict)
    # Called with the ids of flows deleted through the control API (e.g. the web UI forgets them).
    on_delete: list[Callable[[list[str]], None]] = field(default_factory=list)

    def delete_flows(self, ids: list[str] | None) -> int:
        deleted = self.store.delete(ids)
        for callback in self.on_delete:
            callback(deleted)
        return len(deleted)
