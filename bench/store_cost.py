"""CPU and wall time the flow store's writer spends per flow, against a baseline commit, side by
side in one run (child processes, alternating order).

    .venv/bin/python bench/store_cost.py [--baseline COMMIT] [--flows 2000] [--rounds 3] [--capacity 5000]
                                         [--prompt-words 0,12000]

Each child opens a `FlowStore` bounded at ``--capacity`` flows and already full (a copy of one
database filled beforehand), so every flow it records evicts, as in a daemon that has run for a
while. It then completes ``--flows`` OpenAI JSON flows (tests/flows/storekit.quick_flow with a
client-request snapshot, as the inspector records one; per workload, a small request or a prompt
of ``--prompt-words`` words) *one at a time*, as a client at
concurrency 1 would: ``complete(flow).result()``. Figures per flow:

- CPU: process_time of the child over the whole run (writer thread included) / flows;
- wait: wall time from ``complete`` to its commit (what the client's answer waits for): median,
  mean and 99th percentile (WAL checkpoints and eviction batches show in the last two);
- prepare: CPU of ``FlowStore._prepare`` alone on the same flows (serialising, no SQLite).

The baseline's ``src/`` is checked out of git history (``git archive``); both trees run with the
same interpreter and dependencies and see the same flows. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import source_tree  # noqa: E402

BASELINE = "d9cfb4d"  # main before batched eviction and the cheaper _prepare

_CHILD = r"""
import json, random, shutil, statistics, sys, time
src, kit, mode, db, flows, capacity, words = sys.argv[1:8]
sys.path.insert(0, src)
sys.path.insert(0, kit)
from storekit import quick_flow
from ccproxy.flows.store import FlowStore

rng = random.Random(1)
vocab = "the of and to in is you that it he was for on are as with his they at be this have from".split()
text = " ".join(rng.choice(vocab) for _ in range(int(words))) if int(words) else "hi " * 20
BODY = json.dumps({"model": "gpt-test", "messages": [{"role": "user", "content": text}]}).encode()
ANSWER = json.dumps({
    "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-test",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
}).encode()

def make():
    f = quick_flow("/v1/chat/completions", host="api.openai.com", request_body=BODY, response_body=ANSWER,
                   request_headers={"authorization": "Bearer sk-test", "user-agent": "bench/1"},
                   meta={"ccproxy.provider": "openai", "ccproxy.client_wire": "openai_chat",
                         "ccproxy.upstream_wire": "openai_chat", "ccproxy.listener": "reverse"})
    f.metadata["ccproxy.client_request"] = f.request.get_state()
    return f

n, capacity = int(flows), int(capacity)
store = FlowStore(__import__("pathlib").Path(db), max_flows=capacity, max_bytes=10**11)
store.open()
if mode == "fill":
    for future in [store.complete(make()) for _ in range(capacity)]:
        future.result()
    store.close()
    sys.exit(0)
for _ in range(200):  # warm-up
    store.complete(make()).result()
batch = [make() for _ in range(n)]
waits = []
cpu = time.process_time()
for f in batch:
    t = time.perf_counter()
    store.complete(f).result()
    waits.append(time.perf_counter() - t)
cpu = time.process_time() - cpu
prep = [make() for _ in range(n)]
p = time.process_time()
for f in prep:
    store._prepare(f, False)
p = time.process_time() - p
held = len(store)
store.close()
waits.sort()
print(json.dumps({"cpu_us": cpu / n * 1e6, "wait_us": statistics.median(waits) * 1e6,
                  "mean_us": statistics.fmean(waits) * 1e6, "p99_us": waits[int(n * 0.99)] * 1e6,
                  "prepare_us": p / n * 1e6, "held": held}))
"""


def _child(src: Path, mode: str, db: Path, flows: int, capacity: int, words: int = 0) -> dict[str, float]:
    import json

    kit = str(ROOT / "tests" / "flows")
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(src), kit, mode, str(db), str(flows), str(capacity), str(words)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    ).stdout
    return json.loads(out) if mode == "run" else {}


def _measure(a: argparse.Namespace, trees: dict[str, Path], full: Path, tmp: Path, words: int) -> None:
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for r in range(a.rounds):
        order = list(trees) if r % 2 == 0 else list(reversed(trees))
        for name in order:
            db = tmp / "run.db"
            for suffix in ("", "-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)
            shutil.copy(full, db)
            results[name].append(_child(trees[name], "run", db, a.flows, a.capacity, words))
    load = os.getloadavg()
    what = f"a {words}-word prompt" if words else "a small request"
    print(f"# flow store per flow ({what}), {a.flows} flows x {a.rounds} rounds, store full at {a.capacity}")
    print(f"# load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; medians of the rounds")
    print("| tree | CPU us/flow | commit wait us: median | mean | p99 | _prepare us | held |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    med = {}
    for name, runs in results.items():
        med[name] = {k: statistics.median(x[k] for x in runs) for k in runs[0]}
        m = med[name]
        waits = f"{m['wait_us']:.0f} | {m.get('mean_us', 0):.0f} | {m.get('p99_us', 0):.0f}"
        print(f"| {name} | {m['cpu_us']:.0f} | {waits} | {m['prepare_us']:.0f} | {m['held']:.0f} |")
    base, new = med[a.baseline], med["this tree"]
    print(
        f"this tree / {a.baseline}: CPU {new['cpu_us'] / base['cpu_us']:.2f}x, "
        f"wait {new['wait_us'] / base['wait_us']:.2f}x (mean {new['mean_us'] / base['mean_us']:.2f}x, "
        f"p99 {new['p99_us'] / base['p99_us']:.2f}x), _prepare {new['prepare_us'] / base['prepare_us']:.2f}x"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default=BASELINE)
    ap.add_argument("--flows", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--capacity", type=int, default=5000)
    ap.add_argument(
        "--prompt-words",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[0, 12000],
        help="workloads: words in the prompt (0: a small request; 12000: ~46 KB of JSON)",
    )
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ccproxy-store-cost-"))
    try:
        trees = {a.baseline: source_tree(a.baseline, tmp, "store_cost"), "this tree": ROOT / "src"}
        full = tmp / "full.db"
        _child(trees[a.baseline], "fill", full, 0, a.capacity)  # an old row layout both trees read
        for words in a.prompt_words:
            _measure(a, trees, full, tmp, words)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
