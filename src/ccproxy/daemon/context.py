"""State shared by the daemon's addons, passed to each explicitly."""

from __future__ import annotations

import time
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
