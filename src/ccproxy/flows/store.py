"""The flow store: bounded in memory, persisted append-only in mitmproxy's flow format.

Completed flows are appended to `flows.mitm` in the state dir as they finish;
the file is rewritten only when flows are deleted or evicted, so a crash loses
at most the flows still in flight.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, Literal

from mitmproxy import http, io
from mitmproxy.exceptions import FlowReadException

from ccproxy.flows import meta

log = logging.getLogger(__name__)

FLOWS_FILE = "flows.mitm"


def open_private(path: Path, mode: Literal["ab", "wb"]) -> BinaryIO:
    """Flows hold the credentials that were forwarded (`flows dump --reveal-secrets` shows
    them), so the file is readable by its owner only."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, mode)


def flow_size(flow: http.HTTPFlow) -> int:
    size = len(flow.request.raw_content or b"")
    if flow.response is not None:
        size += len(flow.response.raw_content or b"")
    snapshot = flow.metadata.get(meta.CLIENT_REQUEST)
    if snapshot:
        size += len(snapshot.get("content") or b"")
    return size + 1024  # headers and bookkeeping, roughly


class FlowStore:
    def __init__(self, path: Path | None, *, max_flows: int, max_bytes: int) -> None:
        self.path = path
        self.max_flows = max_flows
        self.max_bytes = max_bytes
        self._flows: OrderedDict[str, http.HTTPFlow] = OrderedDict()
        self._sizes: dict[str, int] = {}
        self._bytes = 0
        self._records_on_disk = 0

    # --- reading -----------------------------------------------------------

    def __len__(self) -> int:
        return len(self._flows)

    def __iter__(self):
        return iter(list(self._flows.values()))

    def get(self, flow_id: str) -> http.HTTPFlow | None:
        return self._flows.get(flow_id)

    def find(self, prefix: str) -> http.HTTPFlow | None:
        """A flow by id or unique id prefix (the CLI shows 8-character ids)."""
        if prefix in self._flows:
            return self._flows[prefix]
        hits = [f for fid, f in self._flows.items() if fid.startswith(prefix)]
        return hits[0] if len(hits) == 1 else None

    # --- writing -----------------------------------------------------------

    def add(self, flow: http.HTTPFlow) -> None:
        """Track a flow as soon as it arrives (it shows up in /flows while in flight)."""
        if flow.id not in self._flows:
            self._flows[flow.id] = flow
            self._account(flow)

    def complete(self, flow: http.HTTPFlow) -> None:
        """The flow has its response or error: persist it."""
        self.add(flow)
        self._account(flow)
        if self.path is not None:
            with open_private(self.path, "ab") as fh:
                io.FlowWriter(fh).add(flow)
            self._records_on_disk += 1
        evicted = self._evict()
        if evicted or self._records_on_disk > 2 * max(len(self._flows), 1) + 100:
            self._rewrite()

    def delete(self, ids: Iterable[str] | None = None) -> list[str]:
        """Delete all flows or those ids; returns the ids actually deleted."""
        targets = list(self._flows) if ids is None else [i for i in ids if i in self._flows]
        for fid in targets:
            self._drop(fid)
        if targets:
            self._rewrite()
        return targets

    def load(self) -> int:
        """Reload persisted flows at start-up; a damaged tail is skipped, not fatal."""
        if self.path is None or not self.path.exists():
            return 0
        count = 0
        with self.path.open("rb") as fh:
            try:
                for flow in io.FlowReader(fh).stream():
                    if isinstance(flow, http.HTTPFlow):
                        self._flows.pop(flow.id, None)
                        self._flows[flow.id] = flow
                        self._account(flow)
                        count += 1
            except FlowReadException as e:
                log.warning("flow file %s: stopped reading at a damaged record: %s", self.path, e)
        self._records_on_disk = count
        if self._evict() or count != len(self._flows):
            self._rewrite()
        return len(self._flows)

    # --- internals ---------------------------------------------------------

    def _account(self, flow: http.HTTPFlow) -> None:
        size = flow_size(flow)
        self._bytes += size - self._sizes.get(flow.id, 0)
        self._sizes[flow.id] = size

    def _drop(self, fid: str) -> None:
        self._flows.pop(fid, None)
        self._bytes -= self._sizes.pop(fid, 0)

    def _evict(self) -> int:
        evicted = 0
        while self._flows and (len(self._flows) > self.max_flows or self._bytes > self.max_bytes):
            oldest = next(iter(self._flows))
            if len(self._flows) == 1 and len(self._flows) <= self.max_flows:
                break  # never evict the only flow just because it alone is large
            self._drop(oldest)
            evicted += 1
        return evicted

    def _rewrite(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_suffix(".tmp")
        with open_private(tmp, "wb") as fh:
            writer = io.FlowWriter(fh)
            done = [f for f in self._flows.values() if f.response is not None or f.error is not None]
            for flow in done:
                writer.add(flow)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self._records_on_disk = len(done)
