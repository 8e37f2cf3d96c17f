"""The flow store: throughput at capacity vs empty, against the previous store, memory after
many requests, and `flows list` latency, each with its baseline in the same run.

    .venv/bin/python bench/flow_store.py writer [--capacity 5000] [--flows 20000]
    .venv/bin/python bench/flow_store.py e2e    [--capacity 500] [--requests 400]
    .venv/bin/python bench/flow_store.py rss    [--requests 100000] [--every 10000]
    .venv/bin/python bench/flow_store.py list   [--flows 10000]

The previous store (a bounded in-memory dict persisted to flows.mitm, rewritten on every
eviction) is not part of ccproxy any more: ``writer`` and ``e2e`` check it out of git history
(``OLD_COMMIT``) into a temporary directory and measure it side by side.
Everything runs on loopback against the fake provider of tests/support.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "flows"))

from storekit import quick_flow  # noqa: E402
from tests.conftest import all_wires_providers  # noqa: E402
from tests.support.daemon import DaemonProcess  # noqa: E402
from tests.support.fake_provider import FakeProvider  # noqa: E402

from ccproxy.flows.store import DB_FILE, FlowStore  # noqa: E402

OLD_COMMIT = "697944e"  # the last commit with the flows.mitm store
BODY = {"model": "claude-test", "max_tokens": 16, "messages": [{"role": "user", "content": "hi " * 50}]}


def old_store_module(tmp: Path) -> ModuleType:
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{OLD_COMMIT}:src/ccproxy/flows/store.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = tmp / "old_store.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_store", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def old_checkout(tmp: Path) -> Path:
    """The whole package at OLD_COMMIT (for running the old daemon)."""
    target = tmp / "old-src"
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", OLD_COMMIT, "src"], check=True, capture_output=True
    ).stdout
    target.mkdir()
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target / "src"


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


# --- writer: the store alone ------------------------------------------------------------------


def _put_chunk(store: FlowStore, n: int) -> float:
    flows = [quick_flow(request_body=json.dumps(BODY).encode()) for _ in range(n)]
    t = time.perf_counter()
    for future in [store.complete(f) for f in flows]:
        future.result()
    return time.perf_counter() - t


def bench_writer(capacity: int, total: int) -> None:
    """Side by side, chunk by chunk (so that the machine's load hits both alike): store B is
    bounded at `capacity` and already full, so every batch evicts; store A holds 0..capacity
    flows (cleared, untimed, when it fills up)."""
    tmp = Path(tempfile.mkdtemp(prefix="ccproxy-bench-store-"))
    chunk = 250
    full_store = FlowStore(tmp / "b.db", max_flows=capacity, max_bytes=10**11)
    empty_store = FlowStore(tmp / "a.db", max_flows=10**9, max_bytes=10**11)
    full_store.open()
    empty_store.open()
    for _ in range(capacity // chunk):
        _put_chunk(full_store, chunk)
    empty_times, full_times = [], []
    for _ in range((total - capacity) // chunk):
        if len(empty_store) >= capacity:
            empty_store.delete(None)
        empty_times.append(_put_chunk(empty_store, chunk))
        full_times.append(_put_chunk(full_store, chunk))
    assert capacity - 64 <= len(full_store) <= capacity  # evicted in batches below the bound
    full_store.close()
    empty_store.close()
    empty = rate(chunk, statistics.median(empty_times))
    full = rate(chunk, statistics.median(full_times))
    best = rate(chunk, min(full_times)) / rate(chunk, min(empty_times))
    print(f"new store, {total} flows through a store bounded at {capacity} (chunks of {chunk}, interleaved):")
    print(f"  0..capacity held  {empty:8.0f} flows/s (median)")
    print(f"  at capacity       {full:8.0f} flows/s (median)  ratio {full / empty:.2f} (best chunks: {best:.2f})")

    old = old_store_module(tmp).FlowStore(tmp / "flows.mitm", max_flows=capacity, max_bytes=10**11)
    fill = [quick_flow(request_body=json.dumps(BODY).encode()) for _ in range(capacity)]
    t = time.perf_counter()
    for f in fill:
        old.complete(f)
    old_empty = rate(capacity, time.perf_counter() - t)
    probe = [quick_flow(request_body=json.dumps(BODY).encode()) for _ in range(5)]
    t = time.perf_counter()
    for f in probe:
        old.complete(f)  # each one evicts, and rewrites the whole file
    old_full = rate(len(probe), time.perf_counter() - t)
    print(f"old store (flows.mitm, {OLD_COMMIT}), same flows:")
    print(f"  empty → capacity  {old_empty:8.0f} flows/s")
    print(f"  at capacity       {old_full:8.1f} flows/s  ratio {old_full / old_empty:.3f}")
    print(f"new / old at capacity: {full / old_full:.0f}x")


# --- e2e: through the daemon ------------------------------------------------------------------


def load(url: str, n: int, concurrency: int = 8) -> float:
    """n POST /v1/messages over `concurrency` keep-alive connections; returns requests/s."""
    per = n // concurrency
    errors: list[str] = []

    def worker() -> None:
        with httpx.Client(trust_env=False, timeout=60) as client:
            for _ in range(per):
                r = client.post(url + "/v1/messages", json=BODY)
                if r.status_code != 200:
                    errors.append(str(r.status_code))

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    took = time.perf_counter() - t
    if errors:
        raise SystemExit(f"{len(errors)} requests failed: {errors[:3]}")
    return rate(per * concurrency, took)


def bench_e2e(capacity: int, requests: int) -> None:
    fake = FakeProvider().start()
    tmp = Path(tempfile.mkdtemp(prefix="ccproxy-bench-e2e-"))
    old_src = old_checkout(tmp)
    rows = []
    for label, env in (("new", {}), (f"old ({OLD_COMMIT})", {"PYTHONPATH": str(old_src)})):
        cfg = {"ccproxy": {"providers": all_wires_providers(fake), "flows": {"max_flows": capacity}}}
        d = DaemonProcess(tmp / label.split()[0], cfg, env=env).start(timeout=300)
        try:
            load(d.url, 80)  # warm-up
            httpx.delete(d.url + "/flows", trust_env=False)
            empty = load(d.url, min(requests, capacity))
            load(d.url, capacity)  # to capacity
            full = load(d.url, requests)
        finally:
            d.stop()
        rows.append((label, empty, full))
    fake.stop()
    print(f"daemon, 8 connections, store bounded at {capacity}:")
    for label, empty, full in rows:
        print(f"  {label:14} empty {empty:7.0f} req/s   at capacity {full:7.0f} req/s   ratio {full / empty:.2f}")
    print(f"  new / old at capacity: {rows[0][2] / rows[1][2]:.1f}x")


# --- rss: memory after many requests ------------------------------------------------------------


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_rss(requests: int, every: int) -> None:
    fake = FakeProvider().start()
    tmp = Path(tempfile.mkdtemp(prefix="ccproxy-bench-rss-"))
    d = DaemonProcess(tmp / "cfg", {"ccproxy": {"providers": all_wires_providers(fake)}}).start(timeout=300)
    assert d.proc is not None
    samples = []
    try:
        done = 0
        while done < requests:
            speed = load(d.url, every)
            done += every
            held = httpx.get(d.url + "/health", trust_env=False).json()["flows"]
            samples.append((done, rss_mb(d.proc.pid), held, speed))
            print(f"  {done:7d} requests  RSS {samples[-1][1]:6.1f} MB  store {held} flows  {speed:5.0f} req/s")
            fake.received.clear()  # the fake's own memory is not the daemon's
    finally:
        d.stop()
        fake.stop()
    first, last = samples[0][1], samples[-1][1]
    print(f"RSS {first:.1f} MB after {samples[0][0]} → {last:.1f} MB after {samples[-1][0]}: {last / first - 1:+.1%}")


# --- list: `ccproxy flows list` for N stored flows ----------------------------------------------


def bench_list(n: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="ccproxy-bench-list-"))
    cfg_dir = tmp / "cfg"
    cfg_dir.mkdir()
    store = FlowStore(cfg_dir / DB_FILE, max_flows=n, max_bytes=10**11)
    store.open()
    hosts = ("api.anthropic.com", "api.openai.com", "generativelanguage.googleapis.com")
    futures = []
    for i in range(n):
        path = "/v1/messages" if i % 3 != 2 else "/v1/models"
        futures.append(store.complete(quick_flow(path, host=hosts[i % 2], request_body=json.dumps(BODY).encode())))
    for future in futures:
        future.result()
    store.close()
    d = DaemonProcess(cfg_dir, {"ccproxy": {"flows": {"max_flows": n}}}).start(timeout=300)
    filters = [
        'map(select(.request.pretty_host == "api.anthropic.com"))',
        'map(select(.request.path | startswith("/v1/messages")))',
    ]
    cases = [
        ("no filter", []),
        ("seed filters (pushed down)", [a for f in filters for a in ("--jq", f)]),
        ("jq-only filter", ["--jq", 'map(select(.request.method == "POST"))']),
    ]
    try:
        for label, args in cases:
            best = float("inf")
            for _ in range(3):
                t = time.perf_counter()
                r = d.cli("flows", "list", *args)
                best = min(best, time.perf_counter() - t)
                assert r.returncode == 0, r.stderr
            print(f"  flows list, {n} flows, {label:28} {best:.2f} s end to end (best of 3)")
        t = time.perf_counter()
        d.cli("--version")
        print(f"  baseline: `ccproxy --version`                 {time.perf_counter() - t:.2f} s")
    finally:
        d.stop()
    t = time.perf_counter()
    r = d.cli("flows", "list")
    print(f"  flows list with the daemon stopped ({n} flows)    {time.perf_counter() - t:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="what", required=True)
    w = sub.add_parser("writer")
    w.add_argument("--capacity", type=int, default=5000)
    w.add_argument("--flows", type=int, default=20000)
    e = sub.add_parser("e2e")
    e.add_argument("--capacity", type=int, default=500)
    e.add_argument("--requests", type=int, default=400)
    r = sub.add_parser("rss")
    r.add_argument("--requests", type=int, default=100_000)
    r.add_argument("--every", type=int, default=10_000)
    li = sub.add_parser("list")
    li.add_argument("--flows", type=int, default=10_000)
    args: Any = ap.parse_args()
    if args.what == "writer":
        bench_writer(args.capacity, args.flows)
    elif args.what == "e2e":
        bench_e2e(args.capacity, args.requests)
    elif args.what == "rss":
        bench_rss(args.requests, args.every)
    else:
        bench_list(args.flows)


if __name__ == "__main__":
    main()
