"""The flow store: SQLite (`flows.db` in the state dir), one writer thread, bounded memory.

Threading model
    The event loop only *enqueues*: ``add(flow)`` tracks an in-flight flow in RAM and
    ``complete(flow)`` hands a snapshot of its state to the writer thread and returns a future
    that resolves once the flow is committed (the recorder awaits it, so a client sees its
    response only after the flow is on disk: a ``kill -9`` loses at most the flows in flight).
    ``committed(flow)`` is the same for a coroutine on the event loop, with one thread hand-off
    per batch each way: the flows completed in one loop iteration reach the writer with one
    wake-up, and one ``call_soon_threadsafe`` per committed batch resolves all their waiters.
    The writer scrubs secrets, serialises, compresses, inserts in batched transactions and
    evicts the oldest rows (``DELETE``): a commit never leaves more than ``max_flows`` /
    ``max_bytes``, and once the store is full the writer, after waking the committed flows'
    waiters, evicts a batch down to a little below the bounds in a transaction of its own.
    WAL checkpoints run on a second thread (``_checkpoints``), which the writer finishes.
    Everything else here reads SQLite and **blocks**: call it off the event loop
    (``asyncio.to_thread``). Only in-flight flows and a small LRU of decoded flows live in RAM.

Reading API (typed, blocking)
    ``len(store)``                       flows held (in memory counter; does not block)
    ``store.get(id)`` / ``store.find(p)`` an ``HTTPFlow`` by id / unique id prefix, or None
    ``store.rows(FlowQuery(...))``        ``StoredFlow`` rows (indexed columns + summary JSON),
                                          oldest first; filters: since, until, host,
                                          path_prefix, provider, session, model, limit (the
                                          newest N), after (a seq cursor), ids
    ``store.flows(query)``                the same rows as ``HTTPFlow`` objects (decoded lazily)
    ``store.newest(n)``                   the n newest flows, newest first
    ``iter(store)``                       every flow, oldest first
    ``store.raw_records(query)``          mitmproxy file-format records (for `flows export`)
    ``store.json_page(query, ...)``       one page of the ``GET /flows`` JSON array

Writing API
    ``add``, ``complete`` (event loop), ``delete(ids | None)`` (blocking: the writer does it),
    ``on_remove`` callbacks get the ids of evicted or deleted flows, *on the writer thread*.

Stored flows are at rest without secrets unless ``store_secrets``: see ``flows.at_rest``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import json
import logging
import os
import queue
import shutil
import sqlite3
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ccproxy.flows import records
from ccproxy.flows.columns import FlowColumns
from ccproxy.flows.query import ALL, FlowQuery
from ccproxy.flows.rowview import TABLE_SQL, table_row

if TYPE_CHECKING:
    from mitmproxy import http

# Reading the indexed columns and the stored JSON needs only sqlite3 and flows.records: mitmproxy (its
# flow format, the flow objects) is imported where a flow is written or decoded, so that
# `ccproxy flows list` with the daemon stopped does not pay for it.

log = logging.getLogger(__name__)

DB_FILE = "flows.db"
LEGACY_FILE = "flows.mitm"
APPLICATION_ID = 0x43435058  # "CCPX": tells our database from any other SQLite file
SCHEMA_VERSION = 3  # 2: upstream_model; 3: user_agent
# Per-row bookkeeping (index entries, row header) counted against max_bytes.
ROW_OVERHEAD = 256
_BATCH = 256
_WARN_EVERY_S = 60.0
_RECENT = 4096
_CACHE_MAX_RECORD = 256 * 1024  # compressed bytes
# A WAL checkpoint after this many commits or bytes recorded, whichever comes first (SQLite's
# automatic one runs every ~1000 pages, inside the commit that crosses them, which then waits
# tens of ms for the copy and the fsync).
_CHECKPOINT_EVERY = 256
_CHECKPOINT_BYTES = 4 * 1024 * 1024
# Eviction aims this far below a full store (rows), so that it runs once per that many flows.
_EVICT_EXTRA = 64


def _count_slack(max_flows: int) -> int:
    """How many flows below max_flows an eviction pass goes: 1/64 of the bound, at most 64 (none
    for a store of fewer than 64 flows: there each new flow evicts the oldest)."""
    return min(_EVICT_EXTRA, max_flows // 64)


_COLUMNS = tuple(FlowColumns.__dataclass_fields__)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS flows (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    ts_start REAL NOT NULL, ts_end REAL,
    listener TEXT, method TEXT, scheme TEXT, host TEXT, path TEXT,
    status INTEGER, error TEXT,
    provider TEXT, client_wire TEXT, upstream_wire TEXT, model TEXT, upstream_model TEXT,
    session_id TEXT, conversation_key TEXT, stream INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER, output_tokens INTEGER, cache_read_tokens INTEGER, cache_write_tokens INTEGER,
    request_bytes INTEGER NOT NULL DEFAULT 0, response_bytes INTEGER NOT NULL DEFAULT 0,
    user_agent TEXT,
    stored_bytes INTEGER NOT NULL,
    summary TEXT NOT NULL
);
-- Bodies live apart, so scans of the columns above never page through them: `data` is the
-- flow in mitmproxy's serialisation, `detail` its /flows JSON with bodies (zlib unless small), kept
-- because decoding mitmproxy's format is ten times slower than reading it.
CREATE TABLE IF NOT EXISTS flow_data (seq INTEGER PRIMARY KEY, data BLOB NOT NULL, detail BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS flows_ts ON flows(ts_start);
CREATE INDEX IF NOT EXISTS flows_host ON flows(host, seq);
CREATE INDEX IF NOT EXISTS flows_provider ON flows(provider, ts_start);
CREATE INDEX IF NOT EXISTS flows_session ON flows(session_id, ts_start);
CREATE INDEX IF NOT EXISTS flows_conversation ON flows(conversation_key, ts_start);
CREATE INDEX IF NOT EXISTS flows_model ON flows(model, ts_start);
PRAGMA application_id = {APPLICATION_ID};
PRAGMA user_version = {SCHEMA_VERSION};
"""
_ROW_FIELDS = ("seq", *_COLUMNS, "stored_bytes", "summary")


# Columns newer schemas added, and their values for the rows an older one wrote.
_UA_JSON = """coalesce(nullif(summary ->> '$.client_request.headers."user-agent"', ''),
    nullif(summary ->> '$.request.headers."user-agent"', ''))"""
_ADDED_COLUMNS = {"upstream_model": "NULL", "user_agent": _UA_JSON}


def _migrate(conn: sqlite3.Connection) -> None:
    """Add the columns an older schema lacks, filled from the stored summaries (once, at open)."""
    present = {r[1] for r in conn.execute("PRAGMA table_info(flows)")}
    for name, value in _ADDED_COLUMNS.items():
        if present and name not in present:
            conn.execute(f"ALTER TABLE flows ADD COLUMN {name} TEXT")
            if value != "NULL":
                conn.execute(f"UPDATE flows SET {name} = {value}")


def _read_old_schema(conn: sqlite3.Connection) -> None:
    """A store of an older schema read without the daemon (which migrates it on open): a temporary
    view, which shadows the table for this connection only, adds the newer columns."""
    present = {r[1] for r in conn.execute("PRAGMA table_info(flows)")}
    added = [f"{value} AS {name}" for name, value in _ADDED_COLUMNS.items() if name not in present]
    if present and added:
        conn.execute(f"CREATE TEMP VIEW flows AS SELECT *, {', '.join(added)} FROM main.flows")


class ForeignDatabase(sqlite3.DatabaseError):
    """The file is SQLite but not a ccproxy flow store (or from a newer ccproxy)."""


@dataclass(frozen=True)
class StoredFlow:
    """A row of the flows table: the indexed columns and the flow's JSON without bodies."""

    seq: int
    columns: FlowColumns
    stored_bytes: int
    summary: str  # flow_json(bodies=False, reveal=False) as text


@dataclass
class JsonPage:
    text: str
    next_cursor: int | None  # pass as FlowQuery.after for the next page; None: this was the last


@dataclass
class _Prepared:
    columns: FlowColumns
    summary: str
    data: bytes
    detail: bytes

    @property
    def stored_bytes(self) -> int:
        return len(self.data) + len(self.detail) + len(self.summary) + ROW_OVERHEAD


@dataclass
class _Job:
    kind: str  # "put" | "delete" | "stop"
    flow: http.HTTPFlow | None = None
    ids: list[str] | None = None
    future: concurrent.futures.Future[Any] = field(default_factory=concurrent.futures.Future)
    # Set by `committed`: resolved on its loop, with the rest of the batch, instead of `future`.
    waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[bool]] | None = None


def _rollback(conn: sqlite3.Connection) -> None:
    """End a failed transaction; a connection whose disk failed may refuse even that."""
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def _no_pause(_seconds: float) -> None:
    return None


def _writer_imports() -> None:
    """What `_prepare` imports, imported when the writer starts rather than inside the first
    flow's commit (which a client waits for), then one full garbage collection: importing
    mitm_compat (mitmproxy's proxy layers) leaves ~14,000 new objects, and without it the
    collector's next full pass (~45 ms over the daemon's heap, holding the GIL) comes during the
    first hundreds of flows instead of now (measured in the loop-lag test)."""
    import ccproxy.flows.at_rest
    import ccproxy.flows.columns
    import ccproxy.flows.meta
    import ccproxy.flows.mitmformat
    import ccproxy.flows.serialize
    import ccproxy.mitm_compat  # noqa: F401

    gc.collect()


def _resolve(future: concurrent.futures.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _resolve_waiters(results: list[tuple[asyncio.Future[bool], bool]]) -> None:
    """On the loop: every waiter of one committed batch (a waiter may have been cancelled)."""
    for waiter, value in results:
        if not waiter.done():
            waiter.set_result(value)


def _stored_flow(row: sqlite3.Row | tuple[Any, ...]) -> StoredFlow:
    values = dict(zip(_ROW_FIELDS, row, strict=True))
    cols = {k: values[k] for k in _COLUMNS}
    cols["stream"] = bool(cols["stream"])
    return StoredFlow(values["seq"], FlowColumns(**cols), values["stored_bytes"], values["summary"])


def move_aside(path: Path, why: str) -> Path:
    """Rename a database we cannot use (and its WAL files) out of the way, keeping it for the user."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.unusable-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(path) + suffix)
        if src.exists():
            os.replace(src, Path(str(target) + suffix))
    log.warning("flow store %s is unusable (%s): moved to %s; starting with an empty store", path, why, target)
    return target


class FlowStore:
    """See the module docstring. ``path=None`` keeps the store in a private temporary file that
    is removed on ``close()`` (``flows.persist: false``): memory stays bounded either way."""

    def __init__(
        self,
        path: Path | None,
        *,
        max_flows: int,
        max_bytes: int,
        store_secrets: bool = False,
        cache_size: int = 32,
        readonly: bool = False,
    ) -> None:
        self.persistent = path is not None
        self._tmpdir: str | None = None
        if path is None:
            self._tmpdir = tempfile.mkdtemp(prefix="ccproxy-flows-")
            path = Path(self._tmpdir) / DB_FILE
        self.path = path
        self.max_flows = max_flows
        self.max_bytes = max_bytes
        self.store_secrets = store_secrets
        self.readonly = readonly
        self.on_remove: list[Callable[[list[str]], None]] = []
        self._live: dict[str, http.HTTPFlow] = {}  # in flight or awaiting commit
        self._live_lock = threading.Lock()
        self._recent: OrderedDict[str, None] = OrderedDict()  # ids completed lately (an error may follow)
        self._cache: OrderedDict[str, http.HTTPFlow] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        self._count = 0
        self._bytes = 0
        self._queue: queue.SimpleQueue[list[_Job]] = queue.SimpleQueue()
        # Jobs of `committed` not yet handed to the writer: one hand-off per loop iteration.
        self._outbox: list[_Job] = []
        self._outbox_lock = threading.Lock()
        self._writer: threading.Thread | None = None
        # WAL checkpoints run on a thread of their own, off the commits clients wait for.
        self._checkpointer: threading.Thread | None = None
        self._checkpoint_due = threading.Event()
        self._stopping = threading.Event()
        self._commits = 0  # since the last checkpoint
        self._packer = records.Packer()  # the writer's (and the legacy import's, before it starts)
        self._since_checkpoint = 0  # bytes recorded since then
        self._checkpointed = threading.Event()  # the checkpointer caught up: the writer finishes it
        self._wconn: sqlite3.Connection | None = None
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._last_warning = -_WARN_EVERY_S
        self._opened = False

    # --- lifecycle -----------------------------------------------------------------------

    def open(self) -> None:
        """Open (or create) the database, import a legacy flows.mitm, start the writer.

        A file that is not a usable ccproxy store is moved aside with one warning."""
        if self._opened:
            return
        self._opened = True
        if self.readonly:
            self._count, self._bytes = self._totals(self._reader())
            return
        try:
            conn = self._connect_writer()
        except sqlite3.DatabaseError as e:
            move_aside(self.path, str(e))
            conn = self._connect_writer()
        self._wconn = conn
        self._count, self._bytes = self._totals(conn)
        self._import_legacy()
        evicted = self._evict(conn, self.max_flows, self.max_bytes)  # the bounds may have shrunk
        if evicted:
            self._notify(evicted)
        self._stopping.clear()
        _writer_imports()
        self._writer = threading.Thread(target=self._run, name="ccproxy-flow-writer", daemon=True)
        self._writer.start()
        self._checkpointer = threading.Thread(target=self._checkpoints, name="ccproxy-flow-checkpoint", daemon=True)
        self._checkpointer.start()

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued, stop the writer, close every connection."""
        if self._writer is not None:
            self._flush_outbox()
            self._queue.put([_Job("stop")])
            self._writer.join(timeout)
            self._writer = None
        if self._checkpointer is not None:
            self._stopping.set()
            self._checkpoint_due.set()
            self._checkpointer.join(timeout)
            self._checkpointer = None
        if self._wconn is not None:
            try:
                self._wconn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
            self._wconn.close()
            self._wconn = None
        with self._readers_lock:
            for conn in self._readers:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._readers.clear()
        self._local = threading.local()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
        self._opened = False

    def _connect_writer(self) -> sqlite3.Connection:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)  # private from the first byte
        os.fchmod(fd, 0o600)
        os.close(fd)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if tables and (app_id != APPLICATION_ID or version > SCHEMA_VERSION):
                raise ForeignDatabase(
                    "not a ccproxy flow store" if app_id != APPLICATION_ID else f"schema {version} is newer"
                )
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA wal_autocheckpoint = 0")  # the checkpointer thread does it
            if "flows" in tables and version < SCHEMA_VERSION:
                conn.execute("BEGIN")
                _migrate(conn)
                conn.execute("COMMIT")
            conn.executescript(_SCHEMA)
            conn.execute("SELECT count(*) FROM flows").fetchone()  # a damaged table fails here
        except sqlite3.DatabaseError:
            conn.close()
            raise
        for suffix in ("-wal", "-shm"):
            side = Path(str(self.path) + suffix)
            if side.exists():
                os.chmod(side, 0o600)
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self.readonly:
                conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
                _read_old_schema(conn)
            else:
                conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA query_only = 1")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    @staticmethod
    def _totals(conn: sqlite3.Connection) -> tuple[int, int]:
        count, size = conn.execute("SELECT count(*), coalesce(sum(stored_bytes), 0) FROM flows").fetchone()
        return int(count), int(size)

    # --- event loop side (no I/O) --------------------------------------------------------------

    def __len__(self) -> int:
        with self._live_lock:
            live = len(self._live)
        return self._count + live

    def add(self, flow: http.HTTPFlow) -> None:
        """Track a flow as soon as it arrives (it shows up in /flows while in flight)."""
        with self._live_lock:
            self._live.setdefault(flow.id, flow)

    def complete(self, flow: http.HTTPFlow) -> concurrent.futures.Future[None]:
        """The flow has its response or error: queue it for the writer. The future resolves
        (never raises) when the flow is committed, or dropped because the disk failed."""
        job = self._put_job(flow)
        if self._writer is None:
            _resolve(job.future, None)
            return job.future
        self._queue.put([job])
        return job.future

    def committed(self, flow: http.HTTPFlow) -> asyncio.Future[bool]:
        """`complete` for a coroutine on the running loop: the future resolves (never raises)
        on this loop with True once the flow is committed, False if it was dropped."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        job = self._put_job(flow)
        if self._writer is None:
            waiter.set_result(False)
            return waiter
        job.waiter = (loop, waiter)
        with self._outbox_lock:
            self._outbox.append(job)
            first = len(self._outbox) == 1
        if first:  # the rest of this loop iteration's flows join the same hand-off
            loop.call_soon(self._flush_outbox)
        return waiter

    def _put_job(self, flow: http.HTTPFlow) -> _Job:
        with self._live_lock:
            self._live[flow.id] = flow
            self._recent[flow.id] = None
            while len(self._recent) > _RECENT:
                self._recent.popitem(last=False)
        with self._cache_lock:
            self._cache.pop(flow.id, None)
        return _Job("put", flow=flow)

    def _flush_outbox(self) -> None:
        with self._outbox_lock:
            jobs, self._outbox = self._outbox, []
        if jobs:
            self._queue.put(jobs)

    def is_tracked(self, flow_id: str) -> bool:
        """Whether the flow reached `add` or `complete` lately (in memory; does not block)."""
        with self._live_lock:
            return flow_id in self._live or flow_id in self._recent

    def live_flows(self) -> list[http.HTTPFlow]:
        with self._live_lock:
            return list(self._live.values())

    # --- writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        conn = self._wconn
        assert conn is not None
        stopping = False
        while not stopping:
            jobs = self._queue.get()
            while len(jobs) < _BATCH:
                try:
                    jobs = jobs + self._queue.get_nowait()
                except queue.Empty:
                    break
            puts = [j for j in jobs if j.kind == "put"]
            stopping = any(j.kind == "stop" for j in jobs)
            if puts:
                self._write_puts(conn, puts)
            for job in jobs:
                if job.kind == "delete":
                    self._write_delete(conn, job)
                elif job.kind == "stop":
                    _resolve(job.future, None)

    def _prepare(self, flow: http.HTTPFlow, others_in_flight: bool = True) -> _Prepared:
        # The writer only reads the flow: it is complete (its last hook ran), and whatever the
        # loop may still set on it (connection timestamps) is replaced whole, never torn.
        # time.sleep(0) between the steps hands the GIL to the event loop if it is waiting:
        # on a busy machine a thread can lose the CPU while holding the GIL, and the loop
        # would wait for the scheduler instead of for the next switch interval. With no other
        # flow in flight the loop has nothing to do but wait for this commit, and each sleep(0)
        # would only give the CPU away (on a loaded machine, for a whole time slice).
        from ccproxy.flows import meta, mitmformat
        from ccproxy.flows.at_rest import scrub_flow_dict, scrub_flow_state
        from ccproxy.flows.columns import flow_columns
        from ccproxy.flows.serialize import flow_json, summary_and_detail
        from ccproxy.mitm_compat import flow_state

        pause = time.sleep if others_in_flight else _no_pause
        state = flow_state(flow)  # flow.get_state(), computed faster
        at_rest = state if self.store_secrets else scrub_flow_state(state)
        pause(0)
        data = mitmformat.pack_state(at_rest, self._packer)
        pause(0)
        client = meta.client_request(flow)  # decoded once for the JSON and the columns
        full = scrub_flow_dict(flow_json(flow, bodies=True, reveal=False, client=client))
        summary, detail_text = summary_and_detail(full)  # the JSON without and with bodies
        pause(0)
        detail = self._packer.pack(detail_text.encode())
        columns = flow_columns(flow, client)
        columns.path = full["request"]["path"]
        return _Prepared(columns, summary, data, detail)

    def _insert(self, conn: sqlite3.Connection, p: _Prepared) -> None:
        row = p.columns.as_row()
        old = conn.execute("SELECT seq, stored_bytes FROM flows WHERE id = ?", (row["id"],)).fetchone()
        if old is not None:  # completed twice (an error after the response): the latest state wins
            conn.execute("DELETE FROM flows WHERE seq = ?", (old[0],))
            conn.execute("DELETE FROM flow_data WHERE seq = ?", (old[0],))
            self._count -= 1
            self._bytes -= old[1]
        names = ", ".join((*_COLUMNS, "stored_bytes", "summary"))
        marks = ", ".join("?" * (len(_COLUMNS) + 2))
        cur = conn.execute(
            f"INSERT INTO flows ({names}) VALUES ({marks})",
            (*(row[c] for c in _COLUMNS), p.stored_bytes, p.summary),
        )
        conn.execute("INSERT INTO flow_data (seq, data, detail) VALUES (?, ?, ?)", (cur.lastrowid, p.data, p.detail))
        self._count += 1
        self._bytes += p.stored_bytes

    def _write_puts(self, conn: sqlite3.Connection, jobs: Sequence[_Job]) -> None:
        prepared: list[tuple[_Job, _Prepared]] = []
        # Flows in flight besides this batch (each stays in _live until settled): the loop has work.
        others_in_flight = len(self._live) > len(jobs)
        for job in jobs:
            assert job.flow is not None
            try:
                prepared.append((job, self._prepare(job.flow, others_in_flight)))
            except Exception as e:  # one unserialisable flow must not stop recording
                self._warn("flow %s could not be recorded: %s", job.flow.id, e)
                self._settle([job], committed=False)
        if not prepared:
            return
        count, size = self._count, self._bytes
        evicted: list[str] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for _job, p in prepared:
                self._insert(conn, p)
            # Only what the bounds need right now (a batch larger than the room left); the
            # batched eviction below usually leaves enough room that nothing goes here.
            evicted = self._evict(conn, self.max_flows, self.max_bytes)
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            self._count, self._bytes = count, size
            _rollback(conn)
            # A full disk (or any I/O failure) costs these flows, not the proxying; the next
            # batch tries again, so recording resumes by itself once space returns.
            self._warn("flow store %s: cannot record %d flow(s): %s", self.path, len(prepared), e)
            self._settle([job for job, _p in prepared], committed=False)
            return
        self._settle([job for job, _p in prepared], committed=True)
        if evicted:
            self._notify(evicted)
        self._make_room(conn)
        self._commits += 1
        self._since_checkpoint += sum(p.stored_bytes for _job, p in prepared)
        if self._commits >= _CHECKPOINT_EVERY or self._since_checkpoint >= _CHECKPOINT_BYTES:
            self._commits = self._since_checkpoint = 0
            self._checkpoint_due.set()
        if self._checkpointed.is_set():
            self._checkpointed.clear()
            self._finish_checkpoint(conn)

    def _finish_checkpoint(self, conn: sqlite3.Connection) -> None:
        """After the checkpointer copied the bulk of the WAL: the few frames committed meanwhile,
        from the writer's own connection, so that nothing is appended while it runs and the next
        commit starts the WAL file over (a checkpoint running beside the writer never gets there:
        under steady load the WAL would grow without end)."""
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as e:
            self._warn("flow store %s: WAL checkpoint failed: %s", self.path, e)

    def _checkpoints(self) -> None:
        """Copy the WAL back into the database now and then (PASSIVE: never waits for the writer,
        which goes on appending meanwhile), so that the fsync this takes is on no commit's path.
        Committed flows are in the WAL either way: this moves them, it does not make them durable."""
        conn: sqlite3.Connection | None = None
        try:
            while True:
                self._checkpoint_due.wait()
                self._checkpoint_due.clear()
                if self._stopping.is_set():
                    return
                try:
                    if conn is None:
                        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as e:
                    self._warn("flow store %s: WAL checkpoint failed: %s", self.path, e)
                else:
                    self._checkpointed.set()
        finally:
            if conn is not None:
                conn.close()

    def _make_room(self, conn: sqlite3.Connection) -> None:
        """Once the store is full (or within max_bytes/64 of max_bytes), delete the oldest flows
        down to a little below the bounds, in a transaction of its own, after the waiters of the
        last commit were woken: the clients' answers do not wait for it, and one DELETE of up to
        64 rows touches the same b-tree pages once instead of once per flow."""
        count, size = self._count, self._bytes
        bytes_slack = self.max_bytes // 64
        if count < self.max_flows and size <= self.max_bytes - bytes_slack:
            return
        flows_to, bytes_to = self.max_flows - _count_slack(self.max_flows), self.max_bytes - 2 * bytes_slack
        if count <= flows_to and (size <= bytes_to or count <= 1):
            return  # a small store, already at its bound: the next flow evicts in its own commit
        try:
            conn.execute("BEGIN IMMEDIATE")
            evicted = self._evict(conn, flows_to, bytes_to)
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            self._count, self._bytes = count, size
            _rollback(conn)
            self._warn("flow store %s: cannot evict old flows: %s", self.path, e)
            return
        if evicted:
            self._notify(evicted)

    def _settle(self, jobs: Sequence[_Job], *, committed: bool) -> None:
        wake: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[bool], bool]]] = {}
        with self._live_lock:
            for job in jobs:
                assert job.flow is not None
                if self._live.get(job.flow.id) is job.flow:
                    del self._live[job.flow.id]
        for job in jobs:
            if job.waiter is None:
                _resolve(job.future, committed)
            else:
                wake.setdefault(job.waiter[0], []).append((job.waiter[1], committed))
        for loop, results in wake.items():  # one wake-up per loop and batch, not per flow
            try:
                loop.call_soon_threadsafe(_resolve_waiters, results)
            except RuntimeError:  # that loop is closed: nobody waits any more
                pass

    def _evict(self, conn: sqlite3.Connection, flows_to: int, bytes_to: int) -> list[str]:
        """DELETE the oldest rows until at most `flows_to` flows and `bytes_to` bytes are held, but
        never the only flow for its size alone, and at most `_EVICT_EXTRA` rows more than the
        bounds (max_flows, max_bytes) need: a pass that aims below them stays one small DELETE."""
        evicted: list[str] = []
        needed = 0  # rows that must go for the bounds themselves

        def over_bounds(count: int, size: int) -> bool:
            return count > self.max_flows or (size > self.max_bytes and count > 1)

        def over_target(count: int, size: int) -> bool:
            return count > flows_to or (size > bytes_to and count > 1)

        while over_target(self._count, self._bytes):
            rows = conn.execute(
                "SELECT seq, id, stored_bytes FROM flows ORDER BY seq LIMIT ?",
                (min(max(self._count - flows_to, 1) + _EVICT_EXTRA, 4096),),
            ).fetchall()
            doomed: list[int] = []
            count, size = self._count, self._bytes
            for seq, fid, stored in rows:
                if not over_target(count, size):
                    break
                if over_bounds(count, size):
                    needed += 1
                elif len(evicted) >= needed + _EVICT_EXTRA:
                    break
                doomed.append(seq)
                evicted.append(fid)
                count -= 1
                size -= stored
            if not doomed:
                break
            self._delete_seqs(conn, doomed)
            self._count, self._bytes = count, size
            if not over_bounds(count, size) and len(evicted) >= needed + _EVICT_EXTRA:
                break
        return evicted

    @staticmethod
    def _delete_seqs(conn: sqlite3.Connection, seqs: Sequence[int]) -> None:
        for start in range(0, len(seqs), 500):
            chunk = list(seqs[start : start + 500])
            marks = ",".join("?" * len(chunk))
            conn.execute(f"DELETE FROM flows WHERE seq IN ({marks})", chunk)
            conn.execute(f"DELETE FROM flow_data WHERE seq IN ({marks})", chunk)

    def _write_delete(self, conn: sqlite3.Connection, job: _Job) -> None:
        try:
            if job.ids is None:
                rows = conn.execute("SELECT seq, id, stored_bytes FROM flows").fetchall()
            else:
                rows = []
                for start in range(0, len(job.ids), 500):
                    chunk = job.ids[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    rows += conn.execute(f"SELECT seq, id, stored_bytes FROM flows WHERE id IN ({marks})", chunk)
            conn.execute("BEGIN IMMEDIATE")
            self._delete_seqs(conn, [r[0] for r in rows])
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            _rollback(conn)
            job.future.set_exception(e)
            return
        self._count -= len(rows)
        self._bytes -= sum(r[2] for r in rows)
        ids = [r[1] for r in rows]
        with self._cache_lock:
            for fid in ids:
                self._cache.pop(fid, None)
        if ids:
            self._notify(ids)
        _resolve(job.future, ids)

    def _notify(self, ids: list[str]) -> None:
        for callback in self.on_remove:
            try:
                callback(ids)
            except Exception:
                log.exception("flow store: a removal listener failed")

    def _warn(self, msg: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._last_warning >= _WARN_EVERY_S:
            self._last_warning = now
            log.warning(msg + " (this warning repeats at most once a minute)", *args)

    # --- legacy import ---------------------------------------------------------------------

    def _import_legacy(self) -> None:
        legacy = self.path.with_name(LEGACY_FILE)
        if not self.persistent or not legacy.exists():
            return
        from ccproxy.flows import mitmformat

        conn = self._wconn
        assert conn is not None
        imported = 0
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for flow in mitmformat.read_file(legacy):
                    if flow.response is None and flow.error is None:
                        continue
                    self._insert(conn, self._prepare(flow))
                    imported += 1
            except mitmformat.FlowReadException as e:
                log.warning("%s: stopped importing at a damaged record: %s", legacy, e)
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            conn.execute("ROLLBACK")
            self._count, self._bytes = self._totals(conn)
            log.warning("%s could not be imported: %s (it is kept as it is)", legacy, e)
            return
        target = legacy.with_name(LEGACY_FILE + ".imported")
        os.replace(legacy, target)
        log.info("imported %d flow(s) from %s (renamed %s)", imported, legacy, target.name)

    # --- reading (blocking: call off the event loop) ----------------------------------------

    def _select(self, query: FlowQuery, cols: str) -> sqlite3.Cursor:
        """A lazy cursor over the matching rows, oldest first (``limit``: the newest N)."""
        where, args = query.where()
        sql = f"SELECT {cols} FROM flows{where} ORDER BY seq"
        if query.limit is not None:
            sql = f"SELECT * FROM (SELECT {cols} FROM flows{where} ORDER BY seq DESC LIMIT ?) ORDER BY seq"
            args = [*args, query.limit]
        return self._reader().execute(sql, args)

    def rows(self, query: FlowQuery = ALL) -> list[StoredFlow]:
        return [_stored_flow(r) for r in self._select(query, ", ".join(_ROW_FIELDS))]

    def versions(self, query: FlowQuery = ALL) -> list[tuple[str, int]]:
        """(id, seq) of the matching rows, oldest first: a re-stored flow gets a new seq."""
        return [(str(fid), int(seq)) for fid, seq in self._select(query, "id, seq")]

    def _data(self, seq: int, column: str = "data") -> bytes | None:
        row = self._reader().execute(f"SELECT {column} FROM flow_data WHERE seq = ?", (seq,)).fetchone()
        return row[0] if row else None

    def _decoded(self, fid: str, seq: int) -> http.HTTPFlow | None:
        with self._cache_lock:
            hit = self._cache.get(fid)
            if hit is not None:
                self._cache.move_to_end(fid)
                return hit
        from ccproxy.flows import mitmformat

        blob = self._data(seq)
        if blob is None:
            return None
        flow = mitmformat.unpack_flow(blob)
        if len(blob) > _CACHE_MAX_RECORD:
            return flow  # the cache is for the many small flows a client looks at, not for big ones
        with self._cache_lock:
            self._cache[fid] = flow
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return flow

    def flows(self, query: FlowQuery = ALL) -> Iterator[http.HTTPFlow]:
        for row in self.rows(query):
            flow = self._decoded(row.columns.id, row.seq)
            if flow is not None:
                yield flow

    def __iter__(self) -> Iterator[http.HTTPFlow]:
        return self.flows()

    def newest(self, n: int) -> list[http.HTTPFlow]:
        return list(reversed(list(self.flows(FlowQuery(limit=n)))))

    def get(self, flow_id: str) -> http.HTTPFlow | None:
        with self._live_lock:
            live = self._live.get(flow_id)
        if live is not None:
            return live
        row = self._reader().execute("SELECT seq FROM flows WHERE id = ?", (flow_id,)).fetchone()
        return self._decoded(flow_id, row[0]) if row else None

    def find(self, prefix: str) -> http.HTTPFlow | None:
        """A flow by id or unique id prefix (the CLI shows 8-character ids)."""
        if not prefix:
            return None
        exact = self.get(prefix)
        if exact is not None:
            return exact
        with self._live_lock:
            live = [f for fid, f in self._live.items() if fid.startswith(prefix)]
        rows = (
            self._reader()
            .execute("SELECT seq, id FROM flows WHERE id >= ? AND id < ? LIMIT 2", (prefix, prefix + "\U0010ffff"))
            .fetchall()
        )
        hits = {f.id: None for f in live} | {r[1]: r[0] for r in rows}
        if len(hits) != 1:
            return None
        ((fid, seq),) = hits.items()
        return self._decoded(fid, seq) if seq is not None else live[0]

    def raw_records(self, query: FlowQuery = ALL) -> Iterator[bytes]:
        """Stored flows in mitmproxy's file format, one record each, oldest first."""
        from ccproxy.flows import mitmformat

        for row in self.rows(query):
            blob = self._data(row.seq)
            if blob is not None:
                yield mitmformat.unpack_raw(blob)

    def json_page(
        self,
        query: FlowQuery = ALL,
        *,
        bodies: bool = False,
        reveal: bool = False,
        live: Iterable[http.HTTPFlow] = (),
        max_bytes: int = 8 * 1024 * 1024,
        rows: bool = False,
    ) -> JsonPage:
        """One page of ``GET /flows``: a JSON array text of at most about ``max_bytes``.

        ``live`` (in-flight flows, snapshotted by the caller *before* this query) are appended
        on the last page when the database does not hold them yet. ``rows``: each flow as its
        table row only (the array of flows.rowview.table_row), from the stored columns; ``bodies``
        and ``reveal`` then do not apply."""
        parts: list[str] = []
        size = 0
        seen: set[str] = set()
        next_cursor: int | None = None
        # Only the columns the page needs, straight from the cursor: building row objects for
        # thousands of flows would cost more than the query.
        if rows:
            bodies = reveal = False
            cols = f"seq, id, {TABLE_SQL}"
        elif bodies and not reveal:
            cols = "seq, id, (SELECT detail FROM flow_data d WHERE d.seq = flows.seq)"
        else:
            cols = "seq, id, summary"
        for seq, fid, value in self._select(query, cols):
            if size >= max_bytes:
                next_cursor = seq - 1
                break
            if reveal:  # secrets (if kept) are only in the mitmproxy record
                from ccproxy.flows.serialize import flow_json

                flow = self._decoded(fid, seq)
                if flow is None:
                    continue
                text = json.dumps(flow_json(flow, bodies=bodies, reveal=reveal), ensure_ascii=False)
            elif bodies:
                if value is None:
                    continue
                text = records.unpack(value).decode()
            else:
                text = value
            parts.append(text)
            seen.add(fid)
            size += len(text)
        if next_cursor is None and live:
            from ccproxy.flows.columns import flow_columns
            from ccproxy.flows.serialize import flow_json

            for f in live:
                if f.id in seen:
                    continue
                try:  # an in-flight flow may change under us; it is shown on the next request
                    if query.matches(flow_columns(f)):
                        doc = flow_json(f, bodies=bodies, reveal=reveal)
                        parts.append(json.dumps(table_row(doc) if rows else doc, ensure_ascii=False))
                except (RuntimeError, ValueError):
                    continue
            if query.limit is not None and len(parts) > query.limit:
                parts = parts[len(parts) - query.limit :]
        return JsonPage("[" + ",".join(parts) + "]", next_cursor)

    # --- deleting ----------------------------------------------------------------------------

    def delete(self, ids: Iterable[str] | None = None, timeout: float = 60.0) -> list[str]:
        """Delete all flows or those ids (blocking); returns the ids actually deleted."""
        wanted = None if ids is None else list(ids)
        with self._live_lock:
            if wanted is None:
                live_gone = list(self._live)
                self._live.clear()
            else:
                live_gone = [i for i in wanted if self._live.pop(i, None) is not None]
        if self._writer is None:
            return live_gone
        job = _Job("delete", ids=wanted)
        self._queue.put([job])
        stored: list[str] = job.future.result(timeout)
        return list(dict.fromkeys([*stored, *live_gone]))
