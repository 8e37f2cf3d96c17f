"""Daemon memory (#11, #20): RSS of the ccproxy daemon idle and after N requests, side by side
with plain mitmdump and, optionally, a baseline ccproxy from another source tree, in one run.

    .venv/bin/python -m bench.daemon_rss [--requests 100000] [--step 10000] [--baseline SRC]

`--baseline SRC` runs a second daemon with `PYTHONPATH=SRC` (e.g. `git archive <commit> src`
unpacked into a temp dir), so a cut is measured against the code before it in the same run.
Each step sends `--step` requests (OpenAI JSON passthrough, 16 connections) to every subject
in turn, alternating the order; the store keeps its default 5,000 flows and evicts. Besides
VmRSS it reports the anonymous part (heap) from /proc/PID/smaps_rollup: the file-backed rest
is shared library and bytecode pages. Everything runs on 127.0.0.1. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.daemon import DaemonProcess

from bench.load import drive
from bench.procfs import rss_bytes, tree
from bench.subjects import WORKLOADS, Fake, Mitmdump, ccproxy_config, workload_request


def smaps_kb(pid: int) -> dict[str, int]:
    """/proc/PID/smaps_rollup as {field: kB} (Rss, Anonymous, Shared_Clean, ...)."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            key, _, rest = line.partition(":")
            out[key] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return out


@dataclass
class Proc:
    name: str
    port: int
    pid: int
    stop: Any

    def sample(self) -> dict[str, float]:
        pids = tree(self.pid)
        anon = sum(smaps_kb(p).get("Anonymous", 0) for p in pids)
        return {"rss_mb": rss_bytes(pids) / 2**20, "anon_mb": anon / 1024}


def ccproxy_proc(
    name: str, fake: Fake, workdir: Path, src: Path | None, env: dict[str, str], trace: Path | None = None
) -> Proc:
    extra = dict(env)
    if src is not None:
        extra["PYTHONPATH"] = str(src)  # ahead of the editable install's .pth entry
    wrap = [sys.executable, "-X", "tracemalloc=1", "-m", "bench.memtrace", str(trace)] if trace else None
    d = DaemonProcess(workdir / name, ccproxy_config(fake), env=extra, wrap=wrap).start(timeout=300)
    assert d.proc is not None
    return Proc(name, d.port, d.proc.pid, d.stop)


def dump(trace: Path, name: str) -> None:
    """Asks bench.memtrace in the daemon for a snapshot report and waits for it."""
    (trace / f"dump-{name}").touch()
    while not (trace / f"{name}.txt").exists():
        time.sleep(0.2)


def run(
    requests: int,
    step: int,
    baseline: Path | None,
    env: dict[str, str],
    idle_wait: float,
    trace: Path | None = None,
    load_mitmdump: bool = True,
    baseline_until: int = 0,
) -> list[dict[str, Any]]:
    w = WORKLOADS[0]  # OpenAI JSON passthrough: every request is a stored flow
    req = workload_request(w)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ccproxy-bench-rss-") as tmp:
        work = Path(tmp)
        fake = Fake(None, workers=2, log=work / "fake.log")
        procs: list[Proc] = []
        try:
            m = Mitmdump(fake, None, streaming=True, log=work / "mitmdump.log")
            procs.append(Proc(m.name, m.port, m.proc.pid, m.stop))
            procs.append(ccproxy_proc("ccproxy", fake, work, None, env, trace))
            if baseline is not None:
                procs.append(ccproxy_proc("ccproxy (baseline)", fake, work, baseline, env))
            time.sleep(idle_wait)  # start-up work scheduled after /health answers
            for p in procs:
                rows.append({"subject": p.name, "requests": 0, **p.sample()})
            # mitmdump's idle RSS only, the baseline up to a count: on a busy machine every
            # loaded subject costs run time
            loaded = procs[1:] if not load_mitmdump else list(procs)
            if trace:
                dump(trace, "0")
            done = 0
            while done < requests:
                n = min(step, requests - done)
                if baseline_until and done >= baseline_until:
                    loaded = [p for p in loaded if p.name != "ccproxy (baseline)"]
                order = loaded if (done // step) % 2 == 0 else list(reversed(loaded))
                for p in order:
                    res = drive("127.0.0.1", p.port, req, 16, count=n)
                    rows.append(
                        {"subject": p.name, "requests": done + n, "rps": res.rps, "errors": res.errors, **p.sample()}
                    )
                done += n
                if trace:
                    dump(trace, str(done))
                print(
                    f"[{time.strftime('%H:%M:%S')}] {done} requests: "
                    + ", ".join(f"{r['subject']} {r['rss_mb']:.1f} MB" for r in rows[-len(order) :]),
                    flush=True,
                )
        finally:
            for p in procs:
                p.stop()
            fake.stop()
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    subjects = list(dict.fromkeys(r["subject"] for r in rows))
    counts = sorted({r["requests"] for r in rows})
    at = {(r["subject"], r["requests"]): r for r in rows}
    head = "| requests | " + " | ".join(f"{s} RSS (anon) MB" for s in subjects) + " |"
    lines = [head, "|---:|" + "---:|" * len(subjects)]
    for n in counts:
        cells = [f"{at[(s, n)]['rss_mb']:.1f} ({at[(s, n)]['anon_mb']:.1f})" if (s, n) in at else "" for s in subjects]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    errors = {s: sum(r.get("errors", 0) for r in rows if r["subject"] == s) for s in subjects}
    lines.append("\nrequest errors: " + ", ".join(f"{s} {n}" for s, n in errors.items()))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.daemon_rss", description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--step", type=int, default=10_000)
    ap.add_argument("--baseline", type=Path, help="a source tree (containing ccproxy/) for a second daemon")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for both daemons (e.g. MALLOC_ARENA_MAX=2)")
    ap.add_argument("--trace", type=Path, help="run ccproxy under tracemalloc; snapshot reports into this dir")
    ap.add_argument("--mitmdump-idle-only", action="store_true", help="sample mitmdump idle, send it no load")
    ap.add_argument("--baseline-until", type=int, default=0, help="stop loading the baseline after this many")
    ap.add_argument("--idle-wait", type=float, default=2.0, help="seconds after start before the idle sample")
    a = ap.parse_args(argv)
    if a.baseline is not None and not (a.baseline / "ccproxy").is_dir():
        raise SystemExit(f"bench: --baseline {a.baseline}: no ccproxy/ package in it")
    env = dict(kv.split("=", 1) for kv in a.env)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    rows = run(
        a.requests,
        a.step,
        a.baseline,
        env,
        a.idle_wait,
        a.trace.resolve() if a.trace else None,
        not a.mitmdump_idle_only,
        a.baseline_until,
    )
    print(f"load before: {load}; after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
