"""What the viewer costs over reading the flows it shows, side by side in one run.

A real FlowStore (SQLite file, writer thread) is filled with agent-like sessions: T turns each,
every turn resending the growing history (a 4 KB system prompt, 3 tools, tool_use/tool_result
pairs), so request bodies grow as Claude Code's do. Variants (median of rounds, ms):

  read             store.json_page(bodies=True) for every flow: what `GET /flows?bodies=1` costs
  sessions         read + model.session_rows (the /ui/api/sessions answer)
  conversation     read + model.conversation_view of the longest session (/ui/api/session)
  export           read + model.export_data + page.export_page (`flows view --html`, all sessions)
  sessions, index cold   viewer.index.SessionIndex built from nothing (the first page load)
  sessions, index warm   the same index refreshed with nothing new (an open page's refresh:
                         what the daemon's /ui/api/sessions pays)
  conv., index warm      the longest session through the warm index (only its bodies read)

Run: .venv/bin/python bench/viewer_model.py [--sessions S] [--turns T] [--rounds R]
Not a test; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mitmproxy import http
from mitmproxy.test import tflow

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ccproxy.flows import meta
from ccproxy.flows.store import FlowStore
from ccproxy.viewer import model
from ccproxy.viewer.index import SessionIndex
from ccproxy.viewer.index import flow_dicts as stored_flow_dicts
from ccproxy.viewer.page import export_page

SYSTEM = "You are a coding agent. " * 170  # ~4 KB
TOOLS = [
    {
        "name": f"tool_{i}",
        "description": "A tool. " * 20,
        "input_schema": {"type": "object", "properties": {"p": {"type": "string"}}},
    }
    for i in range(3)
]


def answer(turn: int) -> dict[str, Any]:
    return {
        "id": f"msg_{turn}",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [{"type": "tool_use", "id": f"tu_{turn}", "name": "tool_0", "input": {"p": "x" * 200}}],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 1000 + turn, "output_tokens": 50, "cache_read_input_tokens": 900},
    }


def session_flows(s: int, turns: int) -> list[http.HTTPFlow]:
    history: list[dict[str, Any]] = [{"role": "user", "content": f"session {s}: " + "please work. " * 50}]
    out = []
    for t in range(turns):
        body = {"model": "claude-test", "max_tokens": 1024, "system": SYSTEM, "tools": TOOLS, "messages": history,
                "metadata": {"user_id": f"user_x_session_bench-{s}"}}  # fmt: skip
        f = tflow.tflow(resp=True)
        f.request.path = "/v1/messages"
        f.request.headers["content-type"] = "application/json"
        f.request.headers["user-agent"] = "claude-cli/2.0.0 (external, cli)"
        f.request.content = json.dumps(body).encode()
        f.response.headers["content-type"] = "application/json"
        reply = answer(t)
        f.response.content = json.dumps(reply).encode()
        f.metadata[meta.CLIENT_WIRE] = "anthropic"
        f.metadata[meta.PROVIDER] = "anthropic"
        out.append(f)
        result = {"type": "tool_result", "tool_use_id": f"tu_{t}", "content": "ok " * 300}
        history = [*history, {"role": "assistant", "content": reply["content"]}, {"role": "user", "content": [result]}]
    return out


def timed(fn: Callable[[], object], rounds: int) -> float:
    runs = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--turns", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = FlowStore(Path(tmp) / "flows.db", max_flows=100_000, max_bytes=2**40)
        store.open()
        futures = [store.complete(f) for s in range(args.sessions) for f in session_flows(s, args.turns)]
        for fut in futures:
            fut.result()
        size = sum(len(json.dumps(f)) for f in stored_flow_dicts(store))
        key = f"bench-{args.sessions - 1}"

        def sessions() -> object:
            return model.session_rows(stored_flow_dicts(store))

        def conversation() -> object:
            conv = model.find_session(stored_flow_dicts(store), key)
            assert conv is not None
            return json.dumps(model.conversation_view(conv))

        warm = SessionIndex(store)
        warm.session_rows()

        def indexed_sessions() -> object:
            return warm.session_rows()  # what an open page pays per refresh (the daemon's path)

        def cold_sessions() -> object:
            return SessionIndex(store).session_rows()  # the first page load after a start

        def indexed_conversation() -> object:
            conv = warm.conversation(key)
            assert conv is not None
            return json.dumps(model.conversation_view(conv))

        def export() -> object:
            return export_page(model.export_data(stored_flow_dicts(store)))

        results = {
            "read": timed(lambda: stored_flow_dicts(store), args.rounds),
            "sessions": timed(sessions, args.rounds),
            "conversation": timed(conversation, args.rounds),
            "sessions, index cold": timed(cold_sessions, args.rounds),
            "sessions, index warm": timed(indexed_sessions, args.rounds),
            "conv., index warm": timed(indexed_conversation, args.rounds),
            "export": timed(export, args.rounds),
        }
        conv_bytes = len(conversation())  # type: ignore[arg-type]
        full_bytes = sum(len(f.request.content or b"") for f in session_flows(args.sessions - 1, args.turns))
        store.close()
    n = args.sessions * args.turns
    print(f"{n} flows ({args.sessions} sessions x {args.turns} turns), {size / 1e6:.1f} MB of /flows JSON")
    base = results["read"]
    for name, ms in results.items():
        print(f"  {name:21s} {ms:9.1f} ms   x{ms / base:5.2f} of read")
    kb = f"{conv_bytes / 1e3:.0f} KB for {full_bytes / 1e3:.0f} KB"
    print(f"  one /ui/api/session answer: {kb} of its request bodies")


if __name__ == "__main__":
    main()
