"""The flows commands without the daemon: ``flows.db`` read directly.

When nothing listens at the daemon's address, `flows list|dump|diff|compare|export|repl` read
the database read-only (one line on stderr says so); `flows clear` needs the daemon, or
``--offline`` to delete from the file itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ccproxy.flows.client import DaemonNotRunning, DaemonUnavailable, FlowClient, join_pages
from ccproxy.flows.query import ALL, FlowQuery

# Deleting offline must not also evict by the configured bounds.
_UNBOUNDED = 2**62


class OfflineFlows:
    """The FlowClient interface over the database file."""

    def __init__(self, path: Path, *, writable: bool = False) -> None:
        from ccproxy.flows.store import FlowStore  # mitmproxy and sqlite: only on this path

        if not path.exists():
            raise DaemonUnavailable(f"no flow store at {path}")
        self.path = path
        self.writable = writable
        self._store = FlowStore(path, max_flows=_UNBOUNDED, max_bytes=_UNBOUNDED, readonly=not writable)
        try:
            self._store.open()
        except Exception as e:  # sqlite3.Error and friends: one line, not a traceback
            raise DaemonUnavailable(f"cannot read the flow store {path}: {e}") from e

    def close(self) -> None:
        self._store.close()

    def list_text(self, bodies: bool = False, reveal: bool = False, query: FlowQuery = ALL, rows: bool = False) -> str:
        pages: list[str] = []
        while True:
            page = self._store.json_page(query, bodies=bodies, reveal=reveal, rows=rows)
            pages.append(page.text)
            if page.next_cursor is None:
                return join_pages(pages)
            query = FlowQuery(**{**query.__dict__, "after": page.next_cursor})

    def list_flows(self, bodies: bool = False, reveal: bool = False) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = json.loads(self.list_text(bodies=bodies, reveal=reveal))
        return data

    def get_flow(self, flow_id: str, reveal: bool = False) -> dict[str, Any] | None:
        from ccproxy.flows.serialize import flow_json

        flow = self._store.find(flow_id)
        return flow_json(flow, bodies=True, reveal=reveal) if flow is not None else None

    def export_records(self, ids: list[str]) -> bytes:
        return b"".join(self._store.raw_records(FlowQuery(ids=tuple(ids))))

    def delete_flows(self, ids: list[str] | None = None) -> int | None:
        if not self.writable:
            raise DaemonUnavailable("`flows clear` needs the running daemon (or --offline to edit flows.db directly)")
        return len(self._store.delete(ids))


class FlowSource:
    """The daemon when it runs, else the database (read-only unless ``offline_writes``)."""

    def __init__(
        self, base_url: str, db_path: Path | None, *, offline_writes: bool = False, token: str | None = None
    ) -> None:
        self._client = FlowClient(base_url, token=token)
        self._db_path = db_path
        self._offline_writes = offline_writes
        self._offline: OfflineFlows | None = None
        if offline_writes:
            self._offline = self._open_offline(None)

    def __enter__(self) -> FlowSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()
        if self._offline is not None:
            self._offline.close()

    def _open_offline(self, why: DaemonNotRunning | None) -> OfflineFlows:
        if self._db_path is None or not self._db_path.exists():
            if why is not None:
                raise why
            raise DaemonUnavailable("no flow store to edit (flows.persist is off or nothing was recorded)")
        offline = OfflineFlows(self._db_path, writable=self._offline_writes)
        mode = "read-write (--offline)" if self._offline_writes else "read-only"
        print(f"ccproxy: daemon not running; reading {self._db_path} directly ({mode})", file=sys.stderr)
        return offline

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self._offline is None:
            try:
                return getattr(self._client, name)(*args, **kwargs)
            except DaemonNotRunning as e:
                self._offline = self._open_offline(e)
        return getattr(self._offline, name)(*args, **kwargs)

    def list_text(self, bodies: bool = False, reveal: bool = False, query: FlowQuery = ALL, rows: bool = False) -> str:
        result: str = self._call("list_text", bodies=bodies, reveal=reveal, query=query, rows=rows)
        return result

    def list_flows(self, bodies: bool = False, reveal: bool = False) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("list_flows", bodies=bodies, reveal=reveal)
        return result

    def get_flow(self, flow_id: str, reveal: bool = False) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self._call("get_flow", flow_id, reveal=reveal)
        return result

    def export_records(self, ids: list[str]) -> bytes:
        result: bytes = self._call("export_records", ids)
        return result

    def delete_flows(self, ids: list[str] | None = None) -> int | None:
        result: int | None = self._call("delete_flows", ids)
        return result
