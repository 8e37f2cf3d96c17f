"""Every use of mitmproxy internals, in one fenced module, checked once at start-up.

ccproxy embeds mitmproxy and needs a few things its addon API does not offer:

- **faults** — a subclass of mitmproxy's `HttpStream` given to each flow's stream (its
  `__class__` is swapped in the `requestheaders` hook) so that every answer ccproxy makes itself
  is in the client's wire format: upstream failures before the response headers, the
  time-to-headers timeout, refused bodies (too large, invalid header bytes), faults inside a
  relayed stream (reset, malformed event, upstream idle) and the SIGTERM drain. Without it
  mitmproxy answers with its own HTML page.
- **connections** — the connection handlers of the proxyserver addon: the client's write
  backlog (a slow reader is not an idle upstream), closing idle or header-less connections, the
  streams in flight for the drain, and the listening sockets.
- **web** — the pieces of mitmweb that `addons/web_inspector.py` assembles around our master.
- **keylog** — the module-level TLS key logger of `mitmproxy.net.tls`.
- **asgi** — `mitmproxy.addons.asgiapp.serve`, which answers one flow from an ASGI app (`/mcp`).
- **lean addons** — `mitmproxy.addons`' package `__init__` imports all ~40 default addons (and
  flask, werkzeug, jinja2, ldap3, pyasn1 with them: ~12 MB of RSS); the daemon uses six of them.
  `lean_addons_package()` makes the package importable without running it, until something
  asks for `default_addons`.
- **dispatch** — `HookIndexedAddonManager`, swapped in for the master's AddonManager by
  `index_hooks()`: each event calls only the addons that implement its hook (stock walks all
  ~30 of the chain, sub-addons included, for every event), with stock's semantics.
- **message type checks** — `fast_message_typecheck()`: mitmproxy's debug-build type check of
  every Request/Response built, as one `isinstance` per field (the same classes, the same errors).
- **retarget** — a request's scheme/host/port set without the setters' Host/authority rewrites.

`self_check()` probes each of them against the installed mitmproxy; the daemon disables what is
missing with one warning instead of crashing mid-stream. pyproject pins the tested range
(`TESTED_RANGE`); tests/foundation/test_mitm_compat.py keeps the two in step.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import importlib.util
import inspect
import json
import logging
import socket
import sys
import time
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from mitmproxy import addonmanager, exceptions, hooks, http
from mitmproxy import flow as mflow
from mitmproxy.net.http import status_codes
from mitmproxy.net.http.url import hostport
from mitmproxy.proxy import commands, events, layer
from mitmproxy.proxy.layers.http import (
    DropStream,
    HttpErrorHook,
    HttpLayer,
    HttpStream,
    RequestData,
    RequestProtocolError,
    ResponseData,
    ResponseEndOfMessage,
    ResponseHeaders,
    ResponseProtocolError,
    SendHttp,
)

from ccproxy.flows import meta

log = logging.getLogger("ccproxy.daemon")

# The mitmproxy versions whose internals this module was tested against (pyproject pins the same).
TESTED_RANGE = ">=12.2,<12.4"
FEATURES = ("faults", "connections", "web", "keylog")


# ---- lean addons ------------------------------------------------------------------------------


def lean_addons_package() -> None:
    """Register `mitmproxy.addons` as a bare package (its `__path__`, not its `__init__`), so that
    `from mitmproxy.addons import core` imports that module alone. The real `__init__` runs the
    first time its own name `default_addons` is asked for. A no-op once the package is imported."""
    if "mitmproxy.addons" in sys.modules:
        return
    spec = importlib.util.find_spec("mitmproxy.addons")
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    loader = spec.loader
    pkg = importlib.util.module_from_spec(spec)

    def __getattr__(name: str) -> Any:
        # Only the package's own names: a submodule's name must fail here so the import
        # system goes on to import that submodule by itself.
        if name != "default_addons":
            raise AttributeError(f"module 'mitmproxy.addons' has no attribute {name!r}")
        del pkg.__dict__["__getattr__"]
        loader.exec_module(pkg)
        return pkg.__dict__[name]

    pkg.__dict__["__getattr__"] = __getattr__
    sys.modules["mitmproxy.addons"] = pkg
    import mitmproxy

    mitmproxy.addons = pkg


# ---- start-up self-check ---------------------------------------------------------------------

_STREAM_ATTRS = (
    "_handle_event",
    "handle_protocol_error",
    "start_response_stream",
    "state_consume_request_body",
    "state_wait_for_response_headers",
    "state_stream_response_body",
    "state_consume_response_body",
    "state_errored",
    "state_done",
)


def _missing(obj: Any, names: tuple[str, ...], where: str) -> str | None:
    for name in names:
        if not hasattr(obj, name):
            return f"{where}.{name}"
    return None


def self_check(features: tuple[str, ...] = FEATURES) -> dict[str, str]:
    """feature -> what is missing from the installed mitmproxy; empty when every seam is there.
    Only `features` are probed (the web UI's modules are slow to import when it is off)."""
    problems: dict[str, str] = {}
    gone = _missing(HttpStream, _STREAM_ATTRS, "HttpStream")
    if gone is None and "streams" not in getattr(HttpLayer, "__annotations__", {}):
        gone = "HttpLayer.streams"
    if gone is None:
        from mitmproxy.addons import proxyserver

        if "connections" not in getattr(proxyserver.Proxyserver, "__annotations__", {}):
            gone = "Proxyserver.connections"
    if gone is None:
        from mitmproxy.proxy.layers.http import _http1

        if not callable(getattr(_http1, "make_error_response", None)):
            gone = "mitmproxy.proxy.layers.http._http1.make_error_response"
    if gone:
        problems["faults"] = gone
    from mitmproxy.proxy import server

    gone = _missing(server.ConnectionHandler, ("close_connection", "server_event"), "ConnectionHandler")
    if gone is None and "transports" not in getattr(server.ConnectionHandler, "__annotations__", {}):
        gone = "ConnectionHandler.transports"
    if gone:
        problems["connections"] = gone
        problems.setdefault("faults", gone)
    if "web" in features:
        _check_web(problems)
    if "keylog" in features:
        _check_keylog(problems)
    return {k: v for k, v in problems.items() if k in features}


def _check_web(problems: dict[str, str]) -> None:
    try:
        from mitmproxy.addons import eventstore, view
        from mitmproxy.tools.web import app, webaddons

        gone = (
            _missing(app, ("Application", "logentry_to_json"), "mitmproxy.tools.web.app")
            or _missing(
                app.ClientConnection, ("broadcast", "broadcast_flow", "broadcast_flow_reset"), "ClientConnection"
            )
            or _missing(webaddons, ("WebAddon", "WebAuth"), "mitmproxy.tools.web.webaddons")
            or _missing(view.View, ("add", "remove", "get_by_id"), "View")
            or _missing(eventstore, ("EventStore",), "mitmproxy.addons.eventstore")
        )
    except ImportError as e:
        gone = str(e)
    if gone:
        problems["web"] = gone


def _check_keylog(problems: dict[str, str]) -> None:
    import mitmproxy.net.tls as mtls

    gone = _missing(
        mtls,
        ("log_master_secret", "MasterSecretLogger", "create_proxy_server_context", "create_client_proxy_context"),
        "mitmproxy.net.tls",
    )
    if gone is None and not hasattr(mtls.create_proxy_server_context, "cache_clear"):
        gone = "mitmproxy.net.tls.create_proxy_server_context.cache_clear"
    if gone:
        problems["keylog"] = gone


def warn_disabled(problems: dict[str, str]) -> None:
    """One warning per feature the installed mitmproxy cannot carry."""
    from mitmproxy.version import VERSION

    what = {
        "faults": "upstream faults answered by mitmproxy itself (HTML), no timeouts, no stream guard",
        "connections": "no header/keep-alive timeouts, no connection cap, no drain",
        "web": "the inspector web UI is off",
        "keylog": "inspector.keylog is ignored",
    }
    for feature, missing in problems.items():
        log.warning(
            "mitmproxy %s lacks %s (tested: mitmproxy%s): %s",
            VERSION,
            missing,
            TESTED_RANGE,
            what.get(feature, feature),
        )


# ---- mitmproxy's own error page ----------------------------------------------------------------

_ERROR_KINDS = {400: "invalid_request", 413: "request_too_large", 502: "upstream_failed", 504: "upstream_timeout"}
_GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 413: "INVALID_ARGUMENT", 504: "DEADLINE_EXCEEDED"}


def _error_page(status_code: int, message: str = "") -> bytes:
    """What mitmproxy answers where no flow exists yet (a request head it cannot parse): JSON,
    not its HTML page naming itself. Without a flow the wire is unknown, so the body is the union
    every SDK reads: Anthropic's `type`/`error.type`, OpenAI's `error.code`, Gemini's `error.status`."""
    from mitmproxy.net.http import http1

    kind = _ERROR_KINDS.get(status_code, "upstream_failed" if status_code >= 500 else "invalid_request")
    etype = "invalid_request_error" if status_code < 500 else "api_error"
    body = {
        "type": "error",
        "error": {
            "type": etype,
            "code": kind,
            "message": f"ccproxy: {message}" if message else f"ccproxy: HTTP {status_code}",
            "status": _GOOGLE_STATUS.get(status_code, "INTERNAL" if status_code >= 500 else "INVALID_ARGUMENT"),
        },
    }
    resp = http.Response.make(
        status_code,
        json.dumps(body).encode(),
        {"content-type": "application/json", "connection": "close", "x-ccproxy-error": kind},
    )
    return bytes(http1.assemble_response(resp))


def install_error_page() -> None:
    """Replace mitmproxy's HTML error page (module-wide: the daemon owns its process)."""
    from mitmproxy.proxy.layers.http import _http1

    _http1.make_error_response = _error_page


# ---- mitmproxy's deprecated log relay ------------------------------------------------------------


def drop_legacy_log_events(master: Any) -> bool:
    """Remove the handler every Master installs on the root logger to relay each record as the
    deprecated `add_log` event: it formats the record, wakes the loop (`call_soon_threadsafe`)
    and offers the event to every addon, and no addon of ours or mitmproxy's implements
    `add_log`. That was ~3% of a passthrough request's CPU (the flow's log line). False when
    this mitmproxy has no such handler."""
    handler = getattr(master, "_legacy_log_events", None)
    if handler is None or not callable(getattr(handler, "uninstall", None)):
        return False
    handler.uninstall()
    return True


# ---- hook dispatch ------------------------------------------------------------------------------


class _Via(enum.Enum):
    METHOD = 1  # a plain addon with a callable hook attribute: called straight
    STOCK = 2  # sub-addons, or an attribute that is not a plain callable: mitmproxy's own walk


# (position in the chain, addon, how to call it) of the addons that answer one hook
_Plan = tuple[tuple[int, Any, _Via], ...]


def _via(addon: Any, name: str) -> _Via | None:
    """How `addon` answers hook `name`, or None where mitmproxy's walk would skip it."""
    try:
        if hasattr(addon, "addons"):
            return _Via.STOCK  # sub-addons change under their parent (mitmproxy's ScriptLoader)
        func = getattr(addon, name, None)
        if not func or isinstance(func, types.ModuleType):
            return None
        return _Via.METHOD if callable(func) else _Via.STOCK  # the stock walk raises "not callable"
    except Exception:
        return _Via.STOCK  # a property that raises: mitmproxy's walk raises it under its safecall


def _log_addon_error(exc: Exception, sync: bool) -> None:
    """What mitmproxy's `safecall` logs for an addon method we called straight, the traceback
    cut exactly where stock's would be: stock's is [safecall, trigger*, invoke_addon*, method...]
    and it cuts after the first `invoke_addon_sync`, then after the first `invoke_addon`."""
    tb = exc.__traceback__
    if tb is not None and tb.tb_next is not None:
        tb = tb.tb_next  # our dispatch frame: now [method...]
    if sync:  # stock's first cut is at its own invoke_addon_sync frame
        tb = addonmanager.cut_traceback(tb, "invoke_addon")
    else:
        cut = addonmanager.cut_traceback(tb, "invoke_addon_sync")
        # not in the method's frames: stock's second cut is at its own invoke_addon frame
        tb = tb if cut is tb else addonmanager.cut_traceback(cut, "invoke_addon")
    addonmanager.logger.error(f"Addon error: {exc}", exc_info=(type(exc), exc, tb))


class HookIndexedAddonManager(addonmanager.AddonManager):
    """mitmproxy's AddonManager, calling for each event only the addons that implement its hook.

    Stock `trigger_event` walks every addon of the chain for every event (per addon a
    `safecall` context manager, an `invoke_addon` coroutine, the `_iter_hooks` generator and
    `hasattr(a, "addons")`), and `handle_lifecycle` adds an `update` event after each flow
    event, which hardly any addon implements. Here the chain positions of the addons answering
    a hook are found once per hook name and kept while the chain and the name registry are the
    same: `add` grows the chain, `register` grows the registry, `remove` and `clear` replace
    the chain list, so any of them (or `invalidate()`) makes the plans anew.

    Kept from stock: chain order; an addon with sub-addons, or a hook attribute that is not a
    plain callable, goes through mitmproxy's own `safecall` + `invoke_addon` (parent before
    sub-addons, the module-named attribute skipped, the non-callable one an error); each
    top-level addon's exception is logged as "Addon error", with stock's traceback, and the
    next addon runs; `AddonHalt` ends the event, `OptionsError` propagates; sync and async
    hooks, and `trigger`'s refusal of async ones; a hook method is looked up again at each call;
    if the chain changes during an event, the rest of that event is the stock loop over the list
    stock would be iterating. Not seen: an addon that had no hook attribute when a plan was made
    and gains one later without add/register (`invalidate()` is for that)."""

    _plans: dict[str, _Plan]
    _planned: tuple[list[Any] | None, int, dict[str, Any] | None, int]  # chain, len, lookup, len

    def invalidate(self) -> None:
        self._plans = {}
        self._planned = (None, 0, None, 0)

    def _unchanged(self, chain: list[Any], size: int, lookup: dict[str, Any], names: int) -> bool:
        return self.chain is chain and len(chain) == size and self.lookup is lookup and len(lookup) == names

    def _plan(self, name: str) -> _Plan:
        if not self._unchanged(*self._planned):  # type: ignore[arg-type]
            self._plans = {}
            self._planned = (self.chain, len(self.chain), self.lookup, len(self.lookup))
        plan = self._plans.get(name)
        if plan is None:
            plan = tuple((i, a, v) for i, a in enumerate(self.chain) if (v := _via(a, name)) is not None)
            self._plans[name] = plan
        return plan

    async def handle_lifecycle(self, event: hooks.Hook) -> None:
        message = event.args()[0]
        await self.trigger_event(event)
        if isinstance(message, mflow.Flow) and self._plan("update"):
            await self.trigger_event(hooks.UpdateHook([message]))

    async def trigger_event(self, event: hooks.Hook) -> None:
        name = event.name
        plan = self._plan(name)
        if not plan:
            return
        chain, lookup = self.chain, self.lookup
        size, names = len(chain), len(lookup)
        args = event.args()
        for index, addon, via in plan:
            try:
                if via is _Via.METHOD and (func := getattr(addon, name, None)) and callable(func):
                    try:
                        res = func(*args)
                        if res is not None and inspect.isawaitable(res):
                            await res
                    except (exceptions.AddonHalt, exceptions.OptionsError):
                        raise
                    except Exception as e:
                        _log_addon_error(e, sync=False)
                else:
                    with addonmanager.safecall():
                        await self.invoke_addon(addon, event)
            except exceptions.AddonHalt:
                return
            if not self._unchanged(chain, size, lookup, names):
                await self._stock_rest(chain, index + 1, event)
                return

    async def _stock_rest(self, chain: list[Any], start: int, event: hooks.Hook) -> None:
        """Stock `trigger_event` from `start` on, over the list it was iterating."""
        i = start
        while i < len(chain):
            try:
                with addonmanager.safecall():
                    await self.invoke_addon(chain[i], event)
            except exceptions.AddonHalt:
                return
            i += 1

    def trigger(self, event: hooks.Hook) -> None:
        name = event.name
        plan = self._plan(name)
        if not plan:
            return
        chain, lookup = self.chain, self.lookup
        size, names = len(chain), len(lookup)
        args = event.args()
        for index, addon, via in plan:
            try:
                func = getattr(addon, name, None) if via is _Via.METHOD else None
                if func and callable(func) and not inspect.iscoroutinefunction(func):
                    try:
                        func(*args)
                    except (exceptions.AddonHalt, exceptions.OptionsError):
                        raise
                    except Exception as e:
                        _log_addon_error(e, sync=True)
                else:  # stock's walk, which refuses an async handler here
                    with addonmanager.safecall():
                        self.invoke_addon_sync(addon, event)
            except exceptions.AddonHalt:
                return
            if not self._unchanged(chain, size, lookup, names):
                self._stock_rest_sync(chain, index + 1, event)
                return

    def _stock_rest_sync(self, chain: list[Any], start: int, event: hooks.Hook) -> None:
        i = start
        while i < len(chain):
            try:
                with addonmanager.safecall():
                    self.invoke_addon_sync(chain[i], event)
            except exceptions.AddonHalt:
                return
            i += 1


def index_hooks(master: Any) -> bool:
    """Give `master` the hook-indexed dispatch (before or after its addons are added). False
    when its AddonManager is not mitmproxy's own class (then it keeps the stock dispatch)."""
    manager = getattr(master, "addons", None)
    if type(manager) is not addonmanager.AddonManager or not isinstance(getattr(manager, "chain", None), list):
        return False
    manager.__class__ = HookIndexedAddonManager
    cast(HookIndexedAddonManager, manager).invalidate()
    return True


# ---- message type checks -----------------------------------------------------------------------


def _classes(typeinfo: Any) -> tuple[type, ...] | None:
    """The classes `typecheck.check_option_type` accepts for `typeinfo`, when it is a class or a
    union of classes (a float field takes an int as well); None for anything more elaborate."""
    if typing.get_origin(typeinfo) in (typing.Union, types.UnionType):
        out: list[type] = []
        for arg in typing.get_args(typeinfo):
            got = _classes(arg)
            if got is None:
                return None
            out += got
        return tuple(out)
    if isinstance(typeinfo, type) and typing.get_origin(typeinfo) is None and typeinfo is not typing.Any:
        return (typeinfo, int) if typeinfo is float else (typeinfo,)
    return None


def fast_message_typecheck() -> bool:
    """Replace mitmproxy's `MessageData.__post_init__` (run, with `__debug__`, for every Request
    and Response built: each field through the generic `check_option_type`, ~80-100 µs a message,
    two or more per flow) with one `isinstance` per field against the same classes; a value that
    fails it goes through mitmproxy's own check, which raises its own TypeError. Module-wide: the
    daemon owns its process. False when mitmproxy has no such check (`python -O`) or a field
    type is not a plain class or union of classes."""
    original = getattr(http.MessageData, "__post_init__", None)
    if original is None or getattr(original, "_ccproxy_fast", False):
        return original is not None
    checks: dict[type, tuple[tuple[str, tuple[type, ...]], ...]] = {}
    for cls in (http.RequestData, http.ResponseData):
        plan = []
        for f in dataclasses.fields(cls):
            classes = _classes(f.type)
            if classes is None:
                return False
            plan.append((f.name, classes))
        checks[cls] = tuple(plan)

    def __post_init__(self: Any) -> None:
        plan = checks.get(type(self))
        if plan is None:  # a subclass we did not plan for: mitmproxy's check
            original(self)
            return
        for name, classes in plan:
            if not isinstance(getattr(self, name), classes):
                original(self)  # raises mitmproxy's TypeError for the first wrong field
                return

    __post_init__._ccproxy_fast = True  # type: ignore[attr-defined]
    http.MessageData.__post_init__ = __post_init__  # type: ignore[method-assign]
    return True


# ---- connection handlers ---------------------------------------------------------------------


def _handler(master: Any, client: Any) -> Any:
    ps = master.addons.get("proxyserver")
    return getattr(ps, "connections", {}).get(client.id) if ps is not None else None


def client_backlog(master: Any, client: Any) -> int:
    """Bytes written to the client but not yet taken by its socket (a slow reader's backlog)."""
    handler = _handler(master, client)
    io = handler.transports.get(client) if handler is not None else None
    transport = getattr(getattr(io, "writer", None), "transport", None)
    try:
        return int(transport.get_write_buffer_size()) if transport is not None else 0
    except (AttributeError, RuntimeError):
        return 0


def close_client(master: Any, client: Any) -> bool:
    """Close a client connection (and whatever it has open upstream). False when it is gone."""
    handler = _handler(master, client)
    if handler is None or client not in handler.transports:
        return False
    handler.close_connection(client)
    return True


def refuse_client(master: Any, client: Any, raw: bytes) -> None:
    """Write `raw` (a complete HTTP/1 response) to a connection no layer has read from, then close it."""
    handler = _handler(master, client)
    io = handler.transports.get(client) if handler is not None else None
    writer = getattr(io, "writer", None)
    if writer is not None and not writer.is_closing():
        writer.write(raw)
    client.error = "refused: too many connections"  # mitmproxy closes a client with an error after the hook


# asyncio listens with a backlog of 100: 500 clients connecting at once while the loop is busy
# overflow it, and the kernel then drops handshakes it already completed for the client, which
# sees its request reset (httpx ReadError). listen() again on a listening socket resizes it.
LISTEN_BACKLOG = 1024


def _listening_servers(master: Any) -> Iterator[Any]:
    ps = master.addons.get("proxyserver")
    for instance in list(getattr(ps, "servers", ())):
        # TCP modes keep a list of asyncio servers (`_servers`), the others one (`_server`)
        for server in [*(getattr(instance, "_servers", None) or ()), getattr(instance, "_server", None)]:
            if server is not None:
                yield server


def deepen_backlog(master: Any, backlog: int = LISTEN_BACKLOG) -> int:
    """Give every TCP listening socket a deeper accept queue; the number of sockets resized."""
    resized = 0
    for server in _listening_servers(master):
        for sock in getattr(server, "sockets", None) or ():
            if sock.type == socket.SOCK_STREAM:
                # asyncio hands out wrappers without listen(): a duplicate fd is the same socket
                with socket.fromfd(sock.fileno(), sock.family, sock.type) as same:
                    same.listen(backlog)
                resized += 1
    return resized


def stop_accepting(master: Any) -> None:
    """Close the listening sockets now; connections already accepted go on."""
    for server in _listening_servers(master):
        if hasattr(server, "close"):  # mitmproxy's own stop closes them again later: harmless
            server.close()


def _walk(root: Any) -> Iterator[Any]:
    seen: set[int] = set()
    todo = [root]
    while todo:
        obj = todo.pop()
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        yield obj
        for attr in ("child_layer", "layer"):
            child = getattr(obj, attr, None)
            if isinstance(child, layer.Layer):
                todo.append(child)
        if isinstance(obj, HttpLayer):
            todo.extend(v for v in obj.connections.values() if isinstance(v, layer.Layer))


def _streams(handler: Any) -> Iterator[tuple[HttpLayer, HttpStream]]:
    for obj in _walk(handler.layer):
        if isinstance(obj, HttpLayer):
            for stream in list(obj.streams.values()):
                yield obj, stream


def live_streams(master: Any) -> list[tuple[Any, HttpLayer, CcproxyHttpStream]]:
    """(handler, layer, stream) of every request or response in flight."""
    ps = master.addons.get("proxyserver")
    out = []
    for handler in list(getattr(ps, "connections", {}).values()):
        for http_layer, stream in _streams(handler):
            if isinstance(stream, CcproxyHttpStream) and stream.in_flight():
                out.append((handler, http_layer, stream))
    return out


def client_ids_in_flight(master: Any) -> set[str]:
    return {handler.client.id for handler, _, _ in live_streams(master)}


async def nudge(handler: Any, http_layer: HttpLayer, stream: CcproxyHttpStream) -> None:
    """Hand the stream a wakeup now (how the drain reaches a stream without waiting for data)."""
    cmd = commands.RequestWakeup(0)
    http_layer.command_sources[cmd] = stream
    stream.nudges.add(cmd)
    await handler.server_event(events.Wakeup(cmd))


# ---- the web UI (mitmweb's pieces around our own master) -------------------------------------


class WebMasterFacade:
    """What `mitmproxy.tools.web.app` reads from its `WebMaster`, over an ordinary master."""

    def __init__(self, master: Any, flows: Any, events: Any) -> None:
        self._master = master
        self.view = flows
        self.events = events

    @property
    def proxyserver(self) -> Any:
        return self._master.addons.get("proxyserver")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._master, name)


def web_application(master: Any, flows: Any, events: Any) -> Any:
    """mitmweb's tornado Application serving `flows` and `events` of our master."""
    from mitmproxy.tools.web import app

    return app.Application(WebMasterFacade(master, flows, events), debug=False)  # type: ignore[arg-type]


def web_broadcast(kind: str, payload: Any = None) -> None:
    """Push one update to the connected mitmweb pages (what WebMaster wires to its signals)."""
    from mitmproxy.tools.web import app

    conn = app.ClientConnection
    if kind in ("flows/add", "flows/update"):
        conn.broadcast_flow(kind, payload)  # type: ignore[arg-type]
    elif kind == "flows/reset":
        conn.broadcast_flow_reset()
    elif kind == "events/add":
        conn.broadcast(type=kind, payload=app.logentry_to_json(payload))
    elif payload is None:
        conn.broadcast(type=kind)
    else:
        conn.broadcast(type=kind, payload=payload)


# ---- content codings mitmproxy brings -----------------------------------------------------------


def _zstd_module() -> Any:
    # the stdlib's compression.zstd (Python 3.14) or its backport, which mitmproxy >= 12.3 uses
    for name in ("compression.zstd", "backports.zstd"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def zstd_decompressor() -> Any:
    """An incremental zstd decompressor (`.decompress(chunk)`) from the zstd package the installed
    mitmproxy depends on: `zstandard` up to 12.2, `compression.zstd` or its backport from 12.3."""
    mod = _zstd_module()
    if mod is not None:
        return mod.ZstdDecompressor()
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj()


def zstd_compress(data: bytes) -> bytes:
    """The matching compressor (tests, benchmarks)."""
    mod = _zstd_module()
    if mod is not None:
        return bytes(mod.compress(data))
    import zstandard

    return bytes(zstandard.ZstdCompressor().compress(data))


# ---- TLS key log -----------------------------------------------------------------------------


def set_tls_keylog(path: Any) -> None:
    """Route mitmproxy's TLS secrets (both legs, NSS format) to `path`, or nowhere with None.
    mitmproxy reads SSLKEYLOGFILE only at import time, so the logger is swapped on the module and
    the cached TLS contexts (which carry the old callback) are dropped."""
    import mitmproxy.net.tls as mtls

    if mtls.log_master_secret is not None:
        mtls.log_master_secret.close()
    mtls.log_master_secret = mtls.MasterSecretLogger(path) if path is not None else None
    mtls.create_proxy_server_context.cache_clear()
    mtls.create_client_proxy_context.cache_clear()


# ---- the HTTP stream ------------------------------------------------------------------------


class Guarded(Protocol):
    """What the stream needs from a relayed stream's callable (addons.streaming.StreamTap)."""

    idle_timeout: float
    last_activity: float
    ended: bool
    error: str | None

    def fail(self, message: str) -> bytes: ...


# (flow, stable fault kind, message) -> the response in the client's format
Responder = Callable[[http.HTTPFlow, str, str], http.Response]


@dataclass
class StreamPolicy:
    """What the daemon tells every stream: limits, timeouts, how to word an error."""

    master: Any
    respond: Responder
    read_timeout: float = 0.0  # seconds from the request sent to the response headers; 0: none
    max_body_bytes: int = 0  # 0: no limit
    shutting_down: bool = False
    # client connection id -> message, for connects the daemon cancelled (see addons.faults)
    connect_timeouts: dict[str, str] = field(default_factory=dict)


# Set by addons.faults on a request refused before it was read: (kind, message).
REFUSE = meta.REFUSE
SHUTDOWN_MESSAGE = "ccproxy is shutting down"


def _tap(stream: HttpStream) -> Guarded | None:
    flow = getattr(stream, "flow", None)
    resp = flow.response if flow is not None else None
    tap = getattr(resp, "stream", None) if resp is not None else None
    return tap if tap is not None and hasattr(tap, "fail") and hasattr(tap, "idle_timeout") else None


def where(flow: http.HTTPFlow) -> str:
    # host and port only: Gemini clients may put their API key in the query string
    return f"{flow.request.host}:{flow.request.port}"


# A pending wakeup keeps its stream (and the flow, bodies included) reachable from the HTTP
# layer until it fires, and mitmproxy cannot cancel one: a 300 s read timer per request held
# every flow of the last 300 s in memory. Timers wait in slices and re-arm until due.
TIMER_SLICE_S = 1.0


def _timer(delay: float) -> commands.RequestWakeup:
    return commands.RequestWakeup(min(delay, TIMER_SLICE_S))


class CcproxyHttpStream(HttpStream):
    policy: StreamPolicy | None = None
    _sent_at: float | None = None
    _read_cmd: commands.RequestWakeup | None = None
    _idle_cmd: commands.RequestWakeup | None = None
    _body_seen: int = 0
    _answered: bool = False  # ccproxy answered the client itself: later events are moot

    @property
    def nudges(self) -> set[commands.RequestWakeup]:
        if "_nudges" not in self.__dict__:
            self.__dict__["_nudges"] = set()
        return self.__dict__["_nudges"]

    # -- states -----------------------------------------------------------------------------

    def _waiting_for_headers(self) -> bool:
        return self.server_state == self.state_wait_for_response_headers

    def _not_yet_answered(self) -> bool:
        # the client has no response headers yet: an error can still be a whole response
        return self.client_state != self.state_errored and self.server_state in (
            self.state_wait_for_response_headers,
            self.state_consume_response_body,
        )

    def _streaming(self) -> bool:
        return self.server_state == self.state_stream_response_body and self.client_state != self.state_errored

    def in_flight(self) -> bool:
        if self._answered or getattr(self, "flow", None) is None:
            return False
        return self._not_yet_answered() or self._streaming()

    # -- events -----------------------------------------------------------------------------

    def _handle_event(self, event: events.Event) -> layer.CommandGenerator[None]:
        if self._answered:
            # e.g. the closed upstream's protocol error, queued while the error hook ran: the
            # client has its answer and may already be on its next request
            return
        if isinstance(event, events.Wakeup):
            yield from self._on_wakeup(event)
            return
        tap = _tap(self)
        if tap is not None and not tap.ended and self._streaming() and isinstance(event, ResponseProtocolError):
            yield from self._end_with_error(tap, f"upstream stream failed: {event.message}")
            return
        yield from super()._handle_event(event)
        tap = _tap(self)
        if tap is not None and tap.error is not None and not tap.ended and self._streaming():
            # a malformed event or conversion error already sent the client its error event:
            # end the response now instead of waiting for an upstream we no longer listen to
            yield from self._end_with_error(tap, tap.error)
        yield from self._arm_read_timer()

    def _on_wakeup(self, event: events.Wakeup) -> layer.CommandGenerator[None]:
        cmd = event.command
        policy = self.policy
        if cmd in self.nudges:
            self.nudges.discard(cmd)
            if policy is not None and policy.shutting_down:
                yield from self._drain()
            return
        if cmd is self._read_cmd:
            self._read_cmd = None
            if policy is None or not self._waiting_for_headers() or self._sent_at is None:
                return
            left = self._sent_at + policy.read_timeout - time.monotonic()
            if left > 0:
                self._read_cmd = _timer(left)
                yield self._read_cmd
                return
            yield from self._answer_fault(
                "upstream_timeout",
                f"ccproxy: upstream {where(self.flow)} sent no response headers within {policy.read_timeout:g}s",
                close_upstream=True,
            )
            return
        if cmd is self._idle_cmd:
            self._idle_cmd = None
            tap = _tap(self)
            if tap is None or tap.ended or not self._streaming():
                return
            now = time.monotonic()
            if policy is not None and client_backlog(policy.master, self.context.client) > 0:
                # the client is not reading: backpressure stops the chunks, the upstream is not idle
                tap.last_activity = now
            idle = now - tap.last_activity
            if idle >= tap.idle_timeout:
                yield from self._end_with_error(tap, f"upstream idle for more than {tap.idle_timeout:g}s")
            else:
                self._idle_cmd = _timer(tap.idle_timeout - idle)
                yield self._idle_cmd

    def _arm_read_timer(self) -> layer.CommandGenerator[None]:
        policy = self.policy
        if (
            policy is None
            or policy.read_timeout <= 0
            or self._sent_at is not None
            or self.client_state != self.state_done
            or not self._waiting_for_headers()
        ):
            return
        self._sent_at = time.monotonic()
        self._read_cmd = _timer(policy.read_timeout)
        yield self._read_cmd

    def start_response_stream(self) -> layer.CommandGenerator[None]:
        yield from super().start_response_stream()
        tap = _tap(self)
        if tap is not None and tap.idle_timeout > 0:
            self._idle_cmd = _timer(tap.idle_timeout)
            yield self._idle_cmd

    # -- request body: refusals and the size limit ---------------------------------------------

    def state_consume_request_body(self, event: events.Event) -> layer.CommandGenerator[None]:
        refused = self.flow.metadata.get(REFUSE)
        policy = self.policy
        if refused is None and policy is not None and policy.max_body_bytes and isinstance(event, RequestData):
            self._body_seen += len(event.data)
            if self._body_seen > policy.max_body_bytes:
                refused = (
                    "request_too_large",
                    f"ccproxy: request body exceeds max_body_bytes ({policy.max_body_bytes} bytes)",
                )
        if refused is not None:
            kind, message = refused
            yield from self._refuse(kind, message)
            return
        yield from super().state_consume_request_body(event)

    def _refuse(self, kind: str, message: str) -> layer.CommandGenerator[None]:
        """Answer a request that is never read further nor forwarded; the rest of its body is
        dropped as it arrives (the stream is gone), then the connection closes."""
        self.flow.request.data.content = b""
        self.request_body_buf.clear()
        yield from self._send_answer(kind, message, close=True)

    # -- upstream faults before the response headers --------------------------------------------

    def handle_protocol_error(
        self, event: RequestProtocolError | ResponseProtocolError
    ) -> layer.CommandGenerator[None]:
        if isinstance(event, ResponseProtocolError) and self.policy is not None and self._not_yet_answered():
            client_id = self.context.client.id
            timed_out = self.policy.connect_timeouts.pop(client_id, None)
            if timed_out is not None:
                yield from self._answer_fault("upstream_connect_timeout", timed_out)
            elif event.code.name == "CONNECT_FAILED":
                yield from self._answer_fault(
                    "upstream_unreachable", f"ccproxy: upstream {where(self.flow)} unreachable: {event.message}"
                )
            else:
                yield from self._answer_fault(
                    "upstream_failed",
                    f"ccproxy: upstream {where(self.flow)} failed before answering: {event.message}",
                )
            return
        yield from super().handle_protocol_error(event)

    def _answer_fault(self, kind: str, message: str, *, close_upstream: bool = False) -> layer.CommandGenerator[None]:
        if close_upstream and self.context.server.connected:
            # never reuse a connection that may still deliver the late answer to another request
            yield commands.CloseConnection(self.context.server)
        self.flow.error = mflow.Error(message)
        yield from self._send_answer(kind, message, close=self.client_state != self.state_done, hook=True)

    def _send_answer(self, kind: str, message: str, *, close: bool, hook: bool = False) -> layer.CommandGenerator[None]:
        assert self.policy is not None
        resp = self.policy.respond(self.flow, kind, message)
        if close:
            resp.headers["connection"] = "close"
        self._answered = True
        md = self.flow.metadata
        md[meta.ERROR] = message
        md[meta.CLIENT_RESPONSE] = resp.get_state()
        if hook:
            yield HttpErrorHook(self.flow)
        self.flow.live = False
        self.server_state = self.state_errored
        if self.client_state != self.state_done:
            self.client_state = self.state_errored
        yield SendHttp(ResponseHeaders(self.stream_id, resp, end_stream=False), self.context.client)
        yield SendHttp(ResponseData(self.stream_id, resp.content or b""), self.context.client)
        yield DropStream(self.stream_id)
        yield SendHttp(ResponseEndOfMessage(self.stream_id), self.context.client)

    # -- faults inside a relayed stream, and the drain --------------------------------------------

    def _end_with_error(self, tap: Guarded, message: str) -> layer.CommandGenerator[None]:
        # close upstream first, so the half-read connection is never reused for another request;
        # its protocol error, queued while the response hook runs, is moot then
        self._answered = True
        if self.context.server.connected:
            yield commands.CloseConnection(self.context.server)
        data = tap.fail(message)
        if data:
            if self.context.options.store_streamed_bodies:
                self.response_body_buf += data
            yield SendHttp(ResponseData(self.stream_id, data), self.context.client)
        yield from self.state_stream_response_body(ResponseEndOfMessage(self.stream_id))

    def _drain(self) -> layer.CommandGenerator[None]:
        """The grace period is over: end this exchange with an error in the client's format."""
        tap = _tap(self)
        if tap is not None and not tap.ended and self._streaming():
            yield from self._end_with_error(tap, SHUTDOWN_MESSAGE)
        elif self._not_yet_answered():
            yield from self._answer_fault("shutting_down", f"ccproxy: {SHUTDOWN_MESSAGE}", close_upstream=True)


def attach(master: Any, flow: http.HTTPFlow, policy: StreamPolicy) -> bool:
    """Give the HttpStream carrying `flow` ccproxy's behaviour. False when not found."""
    handler = _handler(master, flow.client_conn)
    if handler is None:
        return False
    for _, stream in _streams(handler):
        if getattr(stream, "flow", None) is flow:
            if type(stream) is HttpStream:
                stream.__class__ = CcproxyHttpStream
            if isinstance(stream, CcproxyHttpStream):
                if stream.policy is None:
                    stream.policy = policy
                return True
            return False
    return False


# ---- a request pointed elsewhere ---------------------------------------------------------------


def retarget(request: http.Request, scheme: str, host: str, port: int) -> None:
    """`request.scheme, .host, .port = scheme, host, port`, leaving the authority as mitmproxy's
    setters leave it, but not the Host header: the caller sets (HTTP/1) or drops (HTTP/2) that
    itself. The `host` and `port` setters each re-derive Host and authority (a header lookup and
    rewrite each time); a request routed by the inspector paid for that twice, then set Host anyway."""
    data = request.data
    data.scheme = scheme.encode("utf-8", "surrogateescape")
    data.host = host
    data.port = port
    if data.authority:
        request.authority = hostport(scheme, host, port)


# ---- messages rebuilt from their state ---------------------------------------------------------

_MESSAGE_DATA: dict[type, tuple[type, frozenset[str]]] = {
    cls: (data, frozenset(f.name for f in dataclasses.fields(data)))
    for cls, data in ((http.Request, http.RequestData), (http.Response, http.ResponseData))
}


def message_from_state[M: (http.Request, http.Response)](kind: type[M], state: dict[str, Any]) -> M:
    """`kind.from_state(state)` for a state that `get_state` produced, without the per-field type
    check mitmproxy's message dataclass runs under `__debug__` (typing introspection for every
    field, most of a rebuild's cost: ccproxy rebuilds the client's request and the upstream's
    response from flow metadata several times per converted flow). Any other shape of state
    goes through `from_state`, check included."""
    data_cls, names = _MESSAGE_DATA[kind]
    if state.keys() != names or not isinstance(state.get("headers"), tuple | list):
        return kind.from_state(state)
    data: Any = object.__new__(data_cls)
    data.set_state(dict(state))  # headers and trailers become Headers, the rest is set as is
    msg = kind.__new__(kind)
    msg.data = data
    return msg


# Headers that make Response.make's content setter do more than append a content-length.
_FRAMING = frozenset(("content-encoding", "transfer-encoding", "content-length"))


def _b(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")  # as Response.make encodes header names and values


def make_response(status_code: int, content: bytes, headers: dict[str, str]) -> http.Response:
    """`http.Response.make(status_code, content, headers)` without the per-field type check of
    its dataclass (~100 us of a converted flow's answer, see `message_from_state`): the same
    version, reason, header fields (content-length appended last) and timestamps. Headers that
    change how the body is framed or encoded go through `Response.make` itself."""
    if any(k.lower() in _FRAMING for k in headers):
        return http.Response.make(status_code, content, headers)
    fields = tuple(
        (k.encode("utf-8", "surrogateescape"), v.encode("utf-8", "surrogateescape")) for k, v in headers.items()
    )
    now = time.time()
    state = {
        "http_version": b"HTTP/1.1",
        "status_code": status_code,
        "reason": status_codes.RESPONSES.get(status_code, "").encode(),
        "headers": (*fields, (b"content-length", str(len(content)).encode())),
        "content": content,
        "trailers": None,
        "timestamp_start": now,
        "timestamp_end": now,
    }
    return message_from_state(http.Response, state)


def guard_stream(master: Any, flow: http.HTTPFlow) -> bool:
    """The stream guard for engines without the faults addon (attach with no policy): idle timer,
    mid-stream faults. True when the stream carries it."""
    handler = _handler(master, flow.client_conn)
    if handler is None:
        return False
    for _, stream in _streams(handler):
        if getattr(stream, "flow", None) is flow:
            if type(stream) is HttpStream:
                stream.__class__ = CcproxyHttpStream
            return isinstance(stream, CcproxyHttpStream)
    return False


__all__ = [
    "FEATURES",
    "REFUSE",
    "TESTED_RANGE",
    "CcproxyHttpStream",
    "HookIndexedAddonManager",
    "StreamPolicy",
    "attach",
    "client_backlog",
    "close_client",
    "guard_stream",
    "index_hooks",
    "live_streams",
    "make_response",
    "message_from_state",
    "nudge",
    "refuse_client",
    "retarget",
    "self_check",
    "set_tls_keylog",
    "stop_accepting",
    "warn_disabled",
]


async def flush_and_close_clients(master: Any) -> None:
    """Write out what the drain sent, then close every client connection (idle keep-alives too)."""
    ps = master.addons.get("proxyserver")
    for handler in list(getattr(ps, "connections", {}).values()):
        try:
            await handler.drain_writers()
        except Exception:  # a connection that is already gone has nothing left to flush
            pass
        close_client(master, handler.client)


async def serve_asgi(app: Any, flow: http.HTTPFlow) -> None:
    """Answer `flow` from an ASGI app with mitmproxy's bridge: a module function of the asgiapp
    addon, not part of the addon API (imported late: it pulls in the ASGI machinery)."""
    from mitmproxy.addons import asgiapp

    await asgiapp.serve(app, flow)


# ---- flow state, serialised faster (the flow store's writer) -----------------------------------

# `SerializableDataclass.get_state` (connections, errors) walks the dataclass fields and inspects
# each field's *type* with typing.get_origin/get_args for every value, on every call; `Flow`
# deep-copies its metadata with copy.deepcopy. For the store, which serialises every finished
# flow, both are most of `get_state`'s cost. Here each class's conversion is worked out once from
# the same fields and types, and metadata (plain data: the store's format needs it) is copied by
# exact type. The result equals `flow.get_state()` (tests/foundation/test_mitm_compat.py compares
# them on real flows); a flow of another shape goes through mitmproxy's own `get_state`.

_Convert = Callable[[Any], Any]
_ATOMIC = frozenset({str, bytes, int, float, bool, type(None)})


def _serializable_fields(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    # mitmproxy's own (cached, name-mangled) field list, types resolved: exactly what it walks
    return cls._SerializableDataclass__fields()  # type: ignore[attr-defined]


def _converter(kind: Any, name: str) -> _Convert:
    """`serializable._to_state(value, kind, name)` as a function of the value alone."""
    import collections.abc
    import enum
    import types
    import typing

    origin = typing.get_origin(kind)
    if origin is typing.Literal:
        allowed = typing.get_args(kind)

        def literal(v: Any) -> Any:
            if v not in allowed:
                raise ValueError(f"Invalid value for {name}: {v!r} does not match any literal value.")
            return v

        return literal
    if origin in (types.UnionType, typing.Union):
        inner, none = typing.get_args(kind)
        if none is not type(None):
            raise TypeError(f"{name}: only `x | None` union types are supported")
        convert = _converter(inner, name)
        return lambda v: None if v is None else convert(v)

    def required(convert: _Convert) -> _Convert:
        def check(v: Any) -> Any:
            if v is None:
                raise ValueError(f"Attribute {name} must not be None.")
            return convert(v)

        return check

    if hasattr(kind, "get_state"):
        return required(lambda v: v.get_state())
    if origin in (list, collections.abc.Sequence):
        (item,) = typing.get_args(kind)
        convert = _converter(item, name)
        return required(lambda v: [convert(x) for x in v])
    if origin is tuple:
        if name in ("peername", "sockname"):  # mitmproxy's own special case for addresses
            parts = [_converter(t, name) for t in (str, int, int, int)]
        else:
            parts = [_converter(t, name) for t in typing.get_args(kind)]

            def sized(v: Any) -> Any:
                if len(parts) != len(v):
                    raise ValueError(f"Invalid data for {name}. Expected {typing.get_args(kind)}, got {v}.")
                return tuple(c(x) for c, x in zip(parts, v, strict=False))

            return required(sized)
        return required(lambda v: tuple(c(x) for x, c in zip(v, parts, strict=False)))
    if origin is dict:
        key_type, value_type = typing.get_args(kind)
        ck, cv = _converter(key_type, name), _converter(value_type, name)
        return required(lambda v: {ck(k): cv(x) for k, x in v.items()})
    if kind in (int, float, str, bytes, bool):
        accepted = (int, float) if kind in (int, float) else kind

        def scalar(v: Any) -> Any:
            if type(v) is kind:
                return v  # kind(v) is v for these exact types
            if not isinstance(v, accepted):
                raise ValueError(f"Invalid value for {name}. Expected {kind}, got {v} ({type(v)}).")
            return kind(v)

        return required(scalar)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return required(lambda v: v.value)
    raise TypeError(f"Unexpected type for {name}: {kind!r}")


_STATE_OF: dict[type, Callable[[Any], dict[str, Any]]] = {}


def _state_function(cls: type) -> Callable[[Any], dict[str, Any]]:
    fn = _STATE_OF.get(cls)
    if fn is None:
        plan = [(f.name, _converter(f.type, f.name)) for f in _serializable_fields(cls)]

        def fn(obj: Any) -> dict[str, Any]:
            return {n: convert(getattr(obj, n)) for n, convert in plan}

        _STATE_OF[cls] = fn
    return fn


def dataclass_state(obj: Any) -> dict[str, Any]:
    """`obj.get_state()` for a mitmproxy SerializableDataclass (a connection, an error)."""
    return _state_function(type(obj))(obj)


def plain_copy(value: Any) -> Any:
    """`copy.deepcopy(value)` for plain data (dicts, lists, tuples of str, bytes, numbers, None);
    anything else inside is handed to deepcopy. Tuples of atomic values are shared, as deepcopy
    shares them."""
    kind = type(value)
    if kind in _ATOMIC:
        return value
    if kind is dict:
        return {k if type(k) in _ATOMIC else plain_copy(k): plain_copy(v) for k, v in value.items()}
    if kind is list:
        return [plain_copy(v) for v in value]
    if kind is tuple:
        items = [plain_copy(v) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else tuple(items)
    import copy

    return copy.deepcopy(value)


def _checked_flow_classes() -> bool:
    """The classes whose get_state this section reproduces still define it where it did."""
    from mitmproxy import connection

    return (
        http.HTTPFlow.get_state.__qualname__ == "HTTPFlow.get_state"
        and mflow.Flow.get_state.__qualname__ == "Flow.get_state"
        and all("get_state" not in vars(c) for c in (connection.Client, connection.Server, mflow.Error))
    )


_FAST_FLOW_STATE: list[bool] = []  # computed on first use: [whether the classes are as expected]


def flow_state(flow: http.HTTPFlow) -> dict[str, Any]:
    """`flow.get_state()`, several times faster (see above). The same dict, key order included
    (the store's tnetstring encoding of it is byte for byte mitmproxy's)."""
    if not _FAST_FLOW_STATE:
        _FAST_FLOW_STATE.append(_checked_flow_classes())
    if type(flow) is not http.HTTPFlow or not _FAST_FLOW_STATE[0]:
        return flow.get_state()
    from mitmproxy import version

    state: dict[str, Any] = {
        "version": version.FLOW_FORMAT_VERSION,
        "type": flow.type,
        "id": flow.id,
        "error": dataclass_state(flow.error) if flow.error else None,
        "client_conn": dataclass_state(flow.client_conn),
        "server_conn": dataclass_state(flow.server_conn),
        "intercepted": flow.intercepted,
        "is_replay": flow.is_replay,
        "marked": flow.marked,
        "metadata": plain_copy(flow.metadata),
        "comment": flow.comment,
        "timestamp_created": flow.timestamp_created,
    }
    backup = flow._backup
    state["backup"] = plain_copy(backup) if backup is not None and backup != state else None
    state["request"] = flow.request.get_state()
    state["response"] = flow.response.get_state() if flow.response else None
    state["websocket"] = flow.websocket.get_state() if flow.websocket else None
    return state
