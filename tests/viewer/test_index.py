"""The sessions index over a real flow store: same rows as building them from every flow's
bodies, reads only the flows it has not seen, forgets evicted ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mitmproxy import http

from ccproxy.flows.store import DB_FILE, FlowStore
from ccproxy.viewer import index as viewer_index
from ccproxy.viewer import model
from ccproxy.viewer.index import SessionIndex, flow_dicts
from tests.flows.storekit import quick_flow


def turn(session: str | None, history: list[str]) -> http.HTTPFlow:
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(history)]
    body = {"model": "claude-x", "max_tokens": 8, "messages": messages}
    if session is not None:
        body["metadata"] = {"user_id": f"user_1_session_{session}"}
    return quick_flow(request_body=json.dumps(body).encode())


def put(store: FlowStore, *flows: http.HTTPFlow) -> None:
    assert all(f.result(30) for f in [store.complete(x) for x in flows])


def test_index_rows_equal_rows_from_bodies_and_read_only_new_flows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FlowStore(tmp_path / DB_FILE, max_flows=6, max_bytes=10**9)
    store.open()
    reads: list[int] = []
    real = viewer_index.flow_dicts

    def counting(s: FlowStore, ids: object = None) -> list[dict[str, object]]:
        out = real(s, ids)  # type: ignore[arg-type]
        reads.append(len(out))
        return out

    monkeypatch.setattr(viewer_index, "flow_dicts", counting)
    try:
        # two explicit sessions and two prefix threads that share a first message, then diverge
        put(store, turn("a", ["hi"]), turn("b", ["yo"]), turn(None, ["same"]), turn(None, ["same", "x", "left"]))
        idx = SessionIndex(store)
        assert idx.session_rows() == model.session_rows(flow_dicts(store))
        assert reads == [4]
        put(store, turn("a", ["hi", "there", "more"]), turn(None, ["same", "y", "right"]))
        rows = idx.session_rows()
        assert reads == [4, 2], "only the two new flows are read"
        assert rows == model.session_rows(flow_dicts(store))
        assert {r["key"]: r["turns"] for r in rows if r["source"] == "session"} == {"a": 2, "b": 1}
        assert sorted(r["turns"] for r in rows if r["source"] == "prefix") == [1, 2]
        # the bound is 6: two more evict the two oldest, which the index forgets
        put(store, turn("c", ["one"]), turn("c", ["one", "two", "three"]))
        rows = idx.session_rows()
        assert reads[-1] == 2 and len(idx._entries) == 6
        assert rows == model.session_rows(flow_dicts(store))
        conv = idx.conversation("c")
        assert conv is not None and [len(json.loads(f["request"]["body"])["messages"]) for f in conv.flows] == [1, 3]
        assert reads[-1] == 2, "a conversation reads its own flows only"
        assert idx.conversation("nobody") is None
    finally:
        store.close()
