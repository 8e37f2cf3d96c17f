"""mitmproxy's own web UI (mitmweb) served by the daemon's master, on loopback, behind a token.

mitmweb normally *is* the master (``WebMaster``).  Here the daemon keeps its own master and
this addon brings the pieces WebMaster adds: a ``View`` of flows, an ``EventStore`` for the
log, the web options and token check (``WebAddon``, ``WebAuth``), and the tornado
``Application``, which is handed a small facade exposing the attributes it reads from a
WebMaster (``view``, ``events``, ``proxyserver``; everything else comes from the real master).
Those internals live in ccproxy.mitm_compat (web_application, web_broadcast).

Usage (inside the running event loop, before or after the master starts)::

    inspector = WebInspector(master, port=config.ccproxy.inspector.port)
    master.addons.add(inspector)  # its sub-addons (view, event store, web options) come along
    ...  # inspector.url is the address with the token, for the user
"""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

import argon2
import tornado.httpserver
from mitmproxy import flow as mflow
from mitmproxy import log, optmanager
from mitmproxy.addons import eventstore, view
from mitmproxy.master import Master
from mitmproxy.tools.web import webaddons

from ccproxy import mitm_compat as compat
from ccproxy.flows import meta

logger = logging.getLogger(__name__)


class _ProxiedFlowsView(view.View):
    """mitmweb's flow list, limited to the flows the flow store records: a flow joins at
    `request` (after the control addon has claimed /health, /flows, ...), not at headers.
    It holds at most ``max_flows`` (the newest): the UI's memory must not grow with the store."""

    def __init__(self, max_flows: int) -> None:
        super().__init__()
        self.max_flows = max_flows
        self._order: OrderedDict[str, None] = OrderedDict()

    def requestheaders(self, f: mflow.Flow) -> None:
        pass

    def request(self, f: mflow.Flow) -> None:
        if not f.metadata.get(meta.CONTROL):
            self.add([f])

    def add(self, flows: Sequence[mflow.Flow]) -> None:
        super().add(flows)
        for f in flows:
            self._order[f.id] = None
        if len(self._order) <= self.max_flows:
            return
        for gone in [i for i in self._order if self.get_by_id(i) is None]:  # removed meanwhile
            del self._order[gone]
        victims: list[mflow.Flow] = []
        for fid in self._order:
            if len(self._order) - len(victims) <= self.max_flows:
                break
            held = self.get_by_id(fid)
            if held is not None and not held.killable:  # removing an in-flight flow would kill it
                victims.append(held)
        for f in victims:
            self.remove([f])  # one at a time: mitmproxy logs an alert for bulk removals
            self._order.pop(f.id, None)


class WebInspector:
    """Addon: start/stop the web UI with the master; ``addons()`` lists what to register."""

    def __init__(
        self,
        master: Master,
        port: int = 8083,
        host: str = "127.0.0.1",
        token: str | None = None,
        max_flows: int = 500,
    ):
        self.master = master
        self.max_flows = max_flows
        self.port = port
        self.host = host
        # The UI can replay and edit flows, so even on loopback it requires a token.
        self.token = token or secrets.token_urlsafe(24)
        self.view = _ProxiedFlowsView(max_flows)
        self.events = eventstore.EventStore()  # needs the running event loop
        # mitmproxy registers an addon's `addons` attribute as its sub-addons.
        self.addons: list[Any] = [webaddons.WebAddon(), webaddons.WebAuth(), self.view, self.events]
        self._server: tornado.httpserver.HTTPServer | None = None
        self._connect_signals()

    @property
    def serving(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/?token={self.token}"

    # -- addon events ---------------------------------------------------------------------

    async def running(self) -> None:
        if self._server is not None:
            return
        # Set here, not in load(): the sub-addons that declare these options load after us.
        # An argon2 hash keeps mitmweb from warning about a plaintext password.
        self.master.options.update(
            web_host=self.host,
            web_port=self.port,
            web_open_browser=False,
            web_password=argon2.PasswordHasher().hash(self.token),
        )
        application = compat.web_application(self.master, self.view, self.events)
        server = tornado.httpserver.HTTPServer(application, max_buffer_size=2**32)
        try:
            server.listen(self.port, self.host)
        except OSError as e:
            raise OSError(e.errno, f"inspector web UI cannot listen on {self.host}:{self.port}: {e.strerror}") from e
        self._server = server
        logger.info("Inspector web UI at http://%s:%s/ (token in `ccproxy status`)", self.host, self.port)

    def forget(self, flow_ids: Iterable[str]) -> None:
        """Drop flows the store evicted or deleted, so the UI keeps matching the CLI."""
        gone = [f for f in (self.view.get_by_id(i) for i in flow_ids) if f is not None]
        if gone:
            self.view.remove(gone)

    def done(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        self._disconnect_signals()

    # -- broadcasting to connected browsers (what WebMaster does in its constructor) ----------

    def _signal_handlers(self) -> list[tuple[Any, Any]]:
        return [
            (self.view.sig_view_add, self._on_add),
            (self.view.sig_view_update, self._on_update),
            (self.view.sig_view_remove, self._on_remove),
            (self.view.sig_view_refresh, self._on_refresh),
            (self.events.sig_add, self._on_event),
            (self.events.sig_refresh, self._on_events_refresh),
            (self.master.options.changed, self._on_options),
        ]

    def _connect_signals(self) -> None:
        for signal, handler in self._signal_handlers():
            signal.connect(handler)

    def _disconnect_signals(self) -> None:
        for signal, handler in self._signal_handlers():
            signal.disconnect(handler)

    @staticmethod
    def _on_add(flow: mflow.Flow) -> None:
        compat.web_broadcast("flows/add", flow)

    @staticmethod
    def _on_update(flow: mflow.Flow) -> None:
        compat.web_broadcast("flows/update", flow)

    @staticmethod
    def _on_remove(flow: mflow.Flow, index: int) -> None:
        compat.web_broadcast("flows/remove", flow.id)

    @staticmethod
    def _on_refresh() -> None:
        compat.web_broadcast("flows/reset")

    @staticmethod
    def _on_event(entry: log.LogEntry) -> None:
        compat.web_broadcast("events/add", entry)

    @staticmethod
    def _on_events_refresh() -> None:
        compat.web_broadcast("events/reset")

    def _on_options(self, updated: set[str]) -> None:
        compat.web_broadcast("options/update", optmanager.dump_dicts(self.master.options, updated))
