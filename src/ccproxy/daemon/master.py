"""Builds and runs the embedded mitmproxy master: listeners, addon chain, shutdown."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mitmproxy import options

from ccproxy import mitm_compat as compat
from ccproxy.access.local import LocalAccess
from ccproxy.access.token import create_token, token_path
from ccproxy.addons.connections import raise_fd_limit
from ccproxy.addons.context import DaemonContext
from ccproxy.addons.faults import FaultsAddon
from ccproxy.config.loader import key_path
from ccproxy.config.models import Config
from ccproxy.daemon.chain import build_chain
from ccproxy.flows.store import DB_FILE, FlowStore
from ccproxy.jail.daemon_hooks import prepare_jail_listener
from ccproxy.transport.trust import load_trust

if TYPE_CHECKING:
    from mitmproxy.addons.proxyserver import Proxyserver
    from mitmproxy.master import Master

    from ccproxy.addons.web_inspector import WebInspector
    from ccproxy.mcp.runtime import McpHttpServer

log = logging.getLogger(__name__)

# The reverse mode needs an upstream; every request is routed explicitly by the
# inspector, and connections are lazy, so this address is never dialled.
_UNROUTED_UPSTREAM = "http://127.0.0.1:9"
WEB_URL_FILE = "web-inspector.url"


class AcceptErrorLog:
    """Loop exception handler: `accept()` failing for lack of file descriptors is one warning per
    10 s with a count, not a traceback per attempt; everything else goes to asyncio's default."""

    EVERY = 10.0

    def __init__(self) -> None:
        self.suppressed = 0
        self.logged_at = float("-inf")

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
            now = loop.time()
            if now - self.logged_at >= self.EVERY:
                extra = f" ({self.suppressed} more since the last warning)" if self.suppressed else ""
                log.warning("cannot accept connections: %s%s", exc.strerror or exc, extra)
                self.logged_at, self.suppressed = now, 0
            else:
                self.suppressed += 1
            return
        loop.default_exception_handler(context)


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop when it is installed (a dependency): mitmproxy's per-event callbacks, timers and
    socket writes are cheaper on libuv (bench/hotpath.py); otherwise asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


class StartupError(Exception):
    """The daemon cannot start; the message is one line for the user."""


@dataclass
class ListenerPlan:
    modes: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # mode spec -> listener name


def plan_listeners(config: Config) -> ListenerPlan:
    c = config.ccproxy
    plan = ListenerPlan()
    reverse = f"reverse:{_UNROUTED_UPSTREAM}@{c.host}:{c.port}"
    plan.modes.append(reverse)
    plan.names[reverse] = "proxy"
    return plan


def prepare_dirs(config: Config) -> None:
    state_key = key_path("state_dir") if config.ccproxy.state_dir else "state directory (the config directory)"
    for what, path in (("config/CA directory", config.config_dir), (state_key, config.state_dir)):
        if path.exists() and not path.is_dir():
            raise StartupError(f"{what}: {path} is not a directory")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            blocker = next((p for p in reversed(path.parents) if p.exists() and not p.is_dir()), None)
            why = f"{blocker} is not a directory" if blocker else e.strerror
            raise StartupError(f"{what}: cannot create {path}: {why}") from e


def make_store(config: Config) -> FlowStore:
    """Opens flows.db (importing a legacy flows.mitm once) and starts its writer thread."""
    f = config.ccproxy.flows
    path = config.state_dir / DB_FILE if f.persist else None
    store = FlowStore(path, max_flows=f.max_flows, max_bytes=f.max_bytes, store_secrets=f.store_secrets)
    try:
        store.open()
    except (OSError, sqlite3.Error) as e:
        raise StartupError(f"flow store {path}: {e}") from e
    if len(store):
        log.info("flow store %s holds %d flow(s)", path, len(store))
    return store


def make_access(config: Config) -> LocalAccess:
    """A fresh local token on disk (0600) and the Host/Origin policy; warns about a non-loopback bind."""
    c = config.ccproxy
    try:
        token = create_token(config.state_dir)
    except OSError as e:
        raise StartupError(f"cannot write {token_path(config.state_dir)}: {e.strerror or e}") from e
    access = LocalAccess.build(c.host, token, c.inspector.allow_origins)
    if not access.loopback_only:
        message = (
            f"ccproxy.host {c.host!r} is not a loopback address: the listener is reachable from other machines; "
            f"every control request needs the token in {token_path(config.state_dir)}"
        )
        log.warning("%s", message)  # the console handler prints it too
    return access


class Daemon:
    def __init__(self, config: Config) -> None:
        self.config = config
        prepare_dirs(config)
        try:
            trust = load_trust(config)
            # builds the upstream client too, which parses inspector.resolve (ValueError names the key)
            self.ctx = DaemonContext(config=config, store=make_store(config), trust=trust)
        except ValueError as e:
            raise StartupError(str(e)) from e
        self.ctx.access = make_access(config)
        c = config.ccproxy
        wanted = (
            "faults",
            "connections",
            *(("web",) if c.inspector.web else ()),
            *(("keylog",) if c.inspector.keylog else ()),
        )
        # Before the first mitmproxy.addons import (the self-check's): the six addons _build adds,
        # not mitmproxy's ~40 defaults and their flask, ldap3, pyasn1 (~12 MB of RSS).
        compat.lean_addons_package()
        self.ctx.disabled = compat.self_check(wanted)
        compat.warn_disabled(self.ctx.disabled)
        if "faults" not in self.ctx.disabled:
            compat.install_error_page()
        raise_fd_limit()
        try:
            self.jail = prepare_jail_listener(config)
        except ValueError as e:
            raise StartupError(str(e)) from e
        self.mcp_http = self._prepare_mcp()
        self.plan = plan_listeners(config)
        self.plan.modes += list(self.jail.modes)
        self.plan.names.update(self.jail.modes)
        try:
            self.chain = build_chain(self.ctx)
        except ValueError as e:  # HookConfigError and friends: already one line naming the hook
            raise StartupError(str(e)) from e
        self.master: Master | None = None
        self.web: WebInspector | None = None
        self._stopping: asyncio.Task[None] | None = None
        self._accept_errors = AcceptErrorLog()

    def _prepare_mcp(self) -> McpHttpServer | None:
        """The MCP server and its app (before the chain: /mcp on the proxy listener serves it too)."""
        mcp = self.config.ccproxy.mcp
        if not mcp.enabled:
            return None
        from ccproxy.mcp.guard import ASGIApp, LocalGuard
        from ccproxy.mcp.lazy import LazyApp
        from ccproxy.mcp.runtime import McpHttpServer
        from ccproxy.mcp.token import resolve_token

        try:
            token = resolve_token(mcp)
        except ValueError as e:
            raise StartupError(str(e)) from e

        def build() -> ASGIApp:  # on the first MCP request: fastmcp is ~19 MB a daemon may never use
            from ccproxy.mcp.server import build_server, streamable_app
            from ccproxy.mcp.services import McpServices

            return streamable_app(build_server(McpServices(self.ctx)))

        lazy = LazyApp(build, modules=("ccproxy.mcp.server", "ccproxy.mcp.services"))
        # The guard stays in front, so a refused request never builds the server.
        guarded = LocalGuard(lazy, token=token, extra_hosts=[mcp.host])
        self.ctx.mcp_app = guarded
        return McpHttpServer(guarded, mcp.host, mcp.port)

    async def _start_mcp(self) -> None:
        if self.mcp_http is None:
            return
        try:
            await self.mcp_http.start()
        except OSError as e:
            mcp = self.config.ccproxy.mcp
            if e.errno == errno.EADDRINUSE:
                raise StartupError(
                    f"mcp listener: {mcp.host}:{mcp.port} is already in use (set mcp.port or stop the other process)"
                ) from e
            raise StartupError(f"mcp listener on {mcp.host}:{mcp.port} failed: {e.strerror or e}") from e
        self.ctx.listeners["mcp"] = self.mcp_http.address

    def _build(self, loop: asyncio.AbstractEventLoop) -> Master:
        c = self.config.ccproxy
        opts = options.Options()
        # Here, not at module level: mitmproxy.master imports mitmproxy.addons, which __init__
        # leaves lean only after compat.lean_addons_package().
        from mitmproxy.addons import core, disable_h2c, dns_resolver, next_layer, proxyserver, tlsconfig
        from mitmproxy.master import Master

        master = Master(opts, event_loop=loop, with_termlog=False)
        compat.drop_legacy_log_events(master)
        compat.index_hooks(master)  # each event to the addons that implement its hook only
        compat.fast_message_typecheck()  # mitmproxy's per-message debug type check, as isinstance
        master.addons.add(
            core.Core(),
            disable_h2c.DisableH2C(),
            proxyserver.Proxyserver(),
            self.jail.resolve,  # inspector.resolve: must answer pinned names before DnsResolver
            dns_resolver.DnsResolver(),
            next_layer.NextLayer(),
            tlsconfig.TlsConfig(),
        )
        master.addons.add(*self.chain)
        if c.inspector.web and "web" not in self.ctx.disabled:
            from ccproxy.addons.web_inspector import WebInspector

            self.web = WebInspector(master, port=c.inspector.port, host=c.host, max_flows=c.inspector.web_max_flows)
            master.addons.add(self.web)
            web = self.web

            # Evictions and deletions happen on the store's writer thread; the view lives on the loop.
            def forget(ids: list[str]) -> None:
                loop.call_soon_threadsafe(web.forget, ids)

            self.ctx.store.on_remove.append(forget)
        opts.update(
            mode=self.plan.modes,
            confdir=str(self.config.config_dir),
            connection_strategy="lazy",
            ssl_insecure=not c.inspector.ssl_verify,
            # system CAs + inspector.upstream_ca + providers' ca_bundle (None: mitmproxy's default, certifi)
            ssl_verify_upstream_trusted_ca=self._trusted_ca(),
            # The client's Host header stays in the snapshot; the inspector sets it per route.
            keep_host_header=True,
        )
        return master

    def _trusted_ca(self) -> str | None:
        bundle = self.ctx.trust.bundle if self.ctx.trust is not None else None
        return str(bundle) if bundle is not None else None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(self._accept_errors)
        master = self._build(loop)
        self.master = master
        # Installed first: a signal during start-up is a clean stop too, not the default kill.
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal)
        ps = master.addons.get("proxyserver")
        if self.web is not None:
            # Started before the listeners (a client that sees /health answer finds the UI up and
            # its URL file current), and here rather than in its `running` event so that a bind
            # failure is our one-line error.
            try:
                await self.web.running()
            except OSError as e:
                raise StartupError(e.strerror or str(e)) from e
            # Persisted flows are shown in the web UI as well (its bounded window of the newest).
            newest = await asyncio.to_thread(self.ctx.store.newest, self.web.max_flows)
            self.web.view.add(list(reversed(newest)))
            self._publish_web_url(self.web)
        # A bind failure is reported once, as our own one-line error, not also by mitmproxy.
        ps_log = logging.getLogger("mitmproxy.addons.proxyserver")
        previous = ps_log.level
        ps_log.setLevel(logging.CRITICAL)
        try:
            ok = await ps.setup_servers()
        finally:
            ps_log.setLevel(previous)
        if not ok:
            raise StartupError(self._startup_failure(ps))
        compat.deepen_backlog(master)
        try:
            await self._start_mcp()
        except StartupError:
            await ps.servers.update([])
            raise
        for instance in ps.servers:
            addrs = ", ".join(f"{a[0]}:{a[1]}" for a in instance.listen_addrs)
            self.ctx.listeners[self.plan.names.get(instance.mode.full_spec, instance.mode.type_name)] = addrs
        await master.running()
        self.ctx.ready = True
        log.info("ccproxy listening on %s", ", ".join(f"{k}={v}" for k, v in self.ctx.listeners.items()))
        self._print_viewer_url()
        try:
            await master.should_exit.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await ps.servers.update([])
            if self.mcp_http is not None:
                await self.mcp_http.stop()
            await master.done()
            # Everything recorded so far is committed before the process ends.
            await asyncio.to_thread(self.ctx.store.close)
            log.info("ccproxy stopped")

    def _on_signal(self) -> None:
        assert self.master is not None
        if self._stopping is not None or not self.ctx.ready or "connections" in self.ctx.disabled:
            self.master.shutdown()  # a second signal (or no way to drain): stop now
            return
        self._stopping = asyncio.get_running_loop().create_task(self._drain_then_stop(self.master))

    async def _drain_then_stop(self, master: Master) -> None:
        """Stop accepting; give what is in flight `shutdown_grace` seconds; end the rest with an
        error in its client's format (an error event for a stream); then stop."""
        loop = asyncio.get_running_loop()
        self.ctx.ready = False
        compat.stop_accepting(master)
        faults = next((a for a in self.chain if isinstance(a, FaultsAddon)), None)
        if faults is not None and faults.policy is not None:
            faults.policy.shutting_down = True
        deadline = loop.time() + self.config.ccproxy.shutdown_grace
        pending = compat.live_streams(master)
        if pending:
            log.info(
                "shutting down: %d request(s) in flight, %gs grace", len(pending), self.config.ccproxy.shutdown_grace
            )
        while pending and loop.time() < deadline:
            await asyncio.sleep(0.05)
            pending = compat.live_streams(master)
        for handler, http_layer, stream in pending:
            await compat.nudge(handler, http_layer, stream)
        if pending:
            log.warning("shutting down: ended %d request(s) still in flight after the grace period", len(pending))
        await compat.flush_and_close_clients(master)
        master.shutdown()

    def _publish_web_url(self, web: WebInspector) -> None:
        # The URL carries the token: readable by the owner only, never logged.
        path = self.config.state_dir / WEB_URL_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(web.url + "\n")
        self.ctx.listeners["web"] = f"{web.host}:{web.port}"
        print(f"ccproxy: inspector web UI: {web.url}", file=sys.stderr, flush=True)

    def _print_viewer_url(self) -> None:
        # Like the web inspector's URL: the key is in it, so stderr only, never the log.
        from ccproxy.addons.viewer import viewer_url
        from ccproxy.cli.common import daemon_url

        url = viewer_url(daemon_url(self.config), self.ctx.access.token)
        print(f"ccproxy: conversation viewer: {url}", file=sys.stderr, flush=True)

    def _startup_failure(self, ps: Proxyserver) -> str:
        for instance in ps.servers:
            exc = instance.last_exception
            if exc is None:
                continue
            name = self.plan.names.get(instance.mode.full_spec, instance.mode.type_name)
            host = instance.mode.listen_host("") or "*"
            port = instance.mode.listen_port(None)
            if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
                return f"{name} listener: {host}:{port} is already in use (set ccproxy.port or stop the other process)"
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return f"{name} listener on {host}:{port} failed: {first}"
        return "listeners failed to start"
