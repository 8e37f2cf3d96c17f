"""The sessions index: one small entry per stored flow, kept in step with the store.

Grouping and the sessions list need a few facts per flow (its thread key and FlowFacts), not its
bodies. The index reads the bodies of the flows it has not seen yet (new, or replaced under the
same id) and forgets evicted ones, so an open page costs the store's columns plus the new
flows, not every body at every refresh. Blocking: the addon calls it from a worker thread.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from typing import Any

from ccproxy.flows.conversations import Conversation, ThreadKey, assign_threads, thread_key
from ccproxy.flows.query import FlowQuery
from ccproxy.flows.store import FlowStore
from ccproxy.viewer.model import FlowFacts, Pricer, facts_row, flow_facts

_READ_CHUNK = 200  # flows whose bodies are read per query


def flow_dicts(store: FlowStore, ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Flows as `/flows?bodies=1` shows them (redacted), in store order; every one when `ids`
    is None. Blocking."""
    wanted = None if ids is None else list(ids)
    out: list[dict[str, Any]] = []
    chunks = [None] if wanted is None else [wanted[i : i + _READ_CHUNK] for i in range(0, len(wanted), _READ_CHUNK)]
    for chunk in chunks:
        query = FlowQuery(ids=tuple(chunk)) if chunk is not None else FlowQuery()
        while True:
            page = store.json_page(query, bodies=True)
            out += json.loads(page.text)
            if page.next_cursor is None:
                break
            query = FlowQuery(ids=query.ids, after=page.next_cursor)
    return out


class SessionIndex:
    def __init__(self, store: FlowStore) -> None:
        self._store = store
        self._entries: dict[str, tuple[int, ThreadKey, FlowFacts]] = {}  # id -> (seq, key, facts)
        self._lock = threading.Lock()  # two pages may refresh at once

    def _sync(self) -> list[tuple[str, ThreadKey, FlowFacts]]:
        with self._lock:
            present = self._store.versions()  # indexed columns only: no summaries, no bodies
            unseen = [fid for fid, seq in present if (e := self._entries.get(fid)) is None or e[0] != seq]
            seqs = dict(present)
            for flow in flow_dicts(self._store, unseen) if unseen else ():
                fid = str(flow.get("id"))
                if fid in seqs:
                    self._entries[fid] = (seqs[fid], thread_key(flow), flow_facts(flow))
            for gone in self._entries.keys() - seqs.keys():
                del self._entries[gone]
            return [(fid, self._entries[fid][1], self._entries[fid][2]) for fid, _ in present if fid in self._entries]

    def _threads(self) -> tuple[list[tuple[str, str]], list[list[tuple[str, FlowFacts]]]]:
        entries = self._sync()
        of_flow, threads = assign_threads(k for _, k, _ in entries)
        members: list[list[tuple[str, FlowFacts]]] = [[] for _ in threads]
        for (fid, _, facts), tid in zip(entries, of_flow, strict=True):
            members[tid].append((fid, facts))
        return threads, members

    def session_rows(self, price: Pricer | None = None) -> list[dict[str, Any]]:
        threads, members = self._threads()
        return [
            facts_row(key, source, [f for _, f in flows], price)
            for (key, source), flows in zip(threads, members, strict=True)
        ]

    def conversation(self, key: str) -> Conversation | None:
        """The session `key` with its flows' bodies (read now: only that session's)."""
        threads, members = self._threads()
        tid = next((i for i, (k, _) in enumerate(threads) if k == key), None)
        if tid is None:
            return None
        conv = Conversation(key, threads[tid][1])
        conv.flows = flow_dicts(self._store, [fid for fid, _ in members[tid]])
        return conv
