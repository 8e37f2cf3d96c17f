"""Same bytes as another version: converted flows of the recorded corpus through two source trees.

    .venv/bin/python bench/transform_identity.py --baseline COMMIT [--max-answers 3]

The companion of bench/transform_cost.py for optimisation work that must not change output: every
request of `tests/corpus` is sent, in a child process per tree (`git archive COMMIT src`, then this
tree), through the daemon's real chain (daemon/chain.py, default hooks, a real SQLite store) with a
`lightllm.transforms` rule to each other wire format, and answered by up to `--max-answers` recorded
answers of the destination wire (JSON answers errors included for buffered requests, SSE for streamed
ones; a stream is fed one event per call, as mitmproxy does). Each tree records, per flow: the
request sent upstream (line, header fields, body), what the client received (status, header fields,
body or stream bytes), the flow's metadata and the store's JSON of the flow (`flow_json`, bodies
included). Clocks and random ids are pinned in both children. The parent compares the two records and
prints the flows that differ (none: the output is byte-identical). Not a test; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import itertools
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import source_tree  # noqa: E402  (after the path: run as a script)

CORPUS = ROOT / "tests" / "corpus"
# corpus `wire` -> the provider type (Wire) it is
WIRE_OF = {
    "anthropic": "anthropic",
    "openai_chat": "openai",
    "openai_responses": "openai_responses",
    "gemini": "gemini",
}
CLOCK = 1_700_000_000.0
EVENTS = ("requestheaders", "request", "responseheaders", "response")
# Wall-clock facts that differ run to run (durations, not outputs).
_VOLATILE = frozenset(("duration_s", "first_byte_s", "ccproxy.hook_timings"))


def corpus_cases() -> list[dict[str, Any]]:
    cases = []
    for path in sorted(CORPUS.glob("*/*.json")):
        data = json.loads(path.read_text())
        if isinstance(data, dict) and data.get("wire") in WIRE_OF:
            cases.append({"name": f"{path.parent.name}/{path.name}", **data, "wire": WIRE_OF[data["wire"]]})
    return cases


def _answers(cases: list[dict[str, Any]], wire: str, stream: bool, n: int) -> list[dict[str, Any]]:
    def fits(c: dict[str, Any]) -> bool:
        sse = c["response"].get("content_type", "").startswith("text/event-stream")
        return c["wire"] == wire and sse == stream

    return [c for c in cases if fits(c)][:n]


def _plain(value: Any) -> Any:
    """JSON-able, with bytes spelled out and the volatile timings dropped."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return value


def _events(body: str) -> list[bytes]:
    """A recorded stream cut into events (blank-line separated), each one tap call."""
    raw = body.replace("\r\n", "\n").encode()
    return [e + b"\n\n" for e in raw.split(b"\n\n") if e.strip()]


async def record(max_answers: int) -> None:
    # Pinned clocks and ids: both trees see the same time and draw the same "random" ids.
    counter = itertools.count()
    uuid.uuid4 = lambda: uuid.UUID(int=next(counter))
    time.time = lambda: CLOCK
    logging.disable(logging.WARNING)

    from mitmproxy import http, options
    from mitmproxy.master import Master

    from bench.chain_cost import reverse_flow
    from ccproxy.addons import streaming
    from ccproxy.addons.context import DaemonContext
    from ccproxy.config.loader import parse_config
    from ccproxy.daemon.chain import build_chain
    from ccproxy.daemon.master import make_store
    from ccproxy.flows import meta
    from ccproxy.flows.serialize import flow_json

    streaming.guard_stream = lambda master, flow: True  # test flows carry no HTTP stream to guard
    cases = corpus_cases()
    tmp = Path(tempfile.mkdtemp(prefix="ccproxy-identity-"))
    providers = {w: {"type": w, "host": "127.0.0.1:1", "scheme": "http"} for w in set(WIRE_OF.values())}
    for dest in sorted(providers):
        rule = {"action": "transform", "dest_provider": dest}
        if dest == "gemini":
            rule["dest_model"] = "gemini-test"
        (tmp / dest).mkdir()
        config = parse_config({"ccproxy": {"providers": providers, "lightllm": {"transforms": [rule]}}}, tmp / dest)
        ctx = DaemonContext(config=config, store=make_store(config))
        chain = build_chain(ctx)
        master = Master(options.Options(), event_loop=asyncio.get_running_loop(), with_termlog=False)
        master.addons.add(*chain)  # addons look up ctx.master and options, as in the daemon
        for case in cases:
            if case["wire"] == dest or not isinstance(case["request"].get("body"), dict):
                continue
            stream = bool(case.get("stream"))
            for answer in _answers(cases, dest, stream, max_answers):
                out: dict[str, Any] = {"case": case["name"], "dest": dest, "answer": answer["name"]}
                counter = itertools.count()
                req = case["request"]
                headers = {"authorization": "Bearer sk-client"} if case["wire"] != "anthropic" else {"x-api-key": "k"}
                f = reverse_flow(req["path"], headers, json.dumps(req["body"]).encode())
                f.request.method = req.get("method", "POST")
                sent: list[bytes] = []
                stream_body = None
                # the chain's events in mitmproxy's order: each event across every addon
                for ev in EVENTS:
                    if ev == "responseheaders" and f.response is None:
                        out["upstream"] = _plain(f.request.get_state())
                        resp = answer["response"]
                        ctype = resp.get("content_type") or "application/json"
                        body = resp["body"] if isinstance(resp["body"], str) else json.dumps(resp["body"])
                        f.response = http.Response.make(
                            resp["status"], b"" if stream else body.encode(), {"content-type": ctype}
                        )
                        stream_body = body if stream else None
                    for addon in chain:
                        fn = getattr(addon, ev, None)
                        if not callable(fn):
                            continue
                        result = fn(f)
                        if inspect.isawaitable(result):
                            await result
                    tap = f.response.stream if f.response is not None else None
                    if ev == "responseheaders" and stream and callable(tap):
                        for chunk in [*_events(stream_body or ""), b""]:
                            got = tap(chunk)
                            sent.extend([got] if isinstance(got, bytes) else got)
                client = meta.client_response(f)
                out["client"] = _plain(client.get_state()) if client is not None else None
                out["stream_sent"] = b"".join(sent).decode("utf-8", "backslashreplace")
                out["metadata"] = _plain(f.metadata)
                out["flow_json"] = _plain(flow_json(f, bodies=True))
                print(json.dumps(out, sort_keys=True), flush=True)
        ctx.store.close()


def _child(src: Path, max_answers: int) -> dict[tuple[str, str, str], dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    argv = [sys.executable, __file__, "--record", "--max-answers", str(max_answers)]
    run = subprocess.run(argv, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"transform_identity: the child for {src} failed:\n{run.stderr[-2000:]}")
    rows = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    return {(r["case"], r["dest"], r["answer"]): r for r in rows}


def compare(baseline: str, max_answers: int) -> int:
    with tempfile.TemporaryDirectory(prefix="ccproxy-identity-ab-") as tmp:
        old = _child(source_tree(baseline, Path(tmp), "transform_identity"), max_answers)
        new = _child(ROOT / "src", max_answers)
    differ = [k for k in old.keys() | new.keys() if old.get(k) != new.get(k)]
    print(f"transform_identity: {len(new)} converted flows, {len(differ)} differ from {baseline}")
    for key in sorted(differ)[:10]:
        a, b = old.get(key) or {}, new.get(key) or {}
        parts = [p for p in sorted(a.keys() | b.keys()) if a.get(p) != b.get(p)]
        print(f"  {' -> '.join(key)}: {', '.join(parts)}")
        for p in parts[:1]:
            print(f"    {baseline}: {json.dumps(a.get(p))[:600]}\n    this tree: {json.dumps(b.get(p))[:600]}")
    return 1 if differ else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", metavar="COMMIT", default="HEAD")
    ap.add_argument("--max-answers", type=int, default=3, help="recorded answers per request and destination")
    ap.add_argument("--record", action="store_true", help=argparse.SUPPRESS)  # a child: print the records
    a = ap.parse_args()
    if a.record:
        asyncio.run(record(a.max_answers))
    else:
        raise SystemExit(compare(a.baseline, a.max_answers))
