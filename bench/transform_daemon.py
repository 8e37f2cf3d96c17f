"""CPU per request of the running daemon, this tree against a baseline commit, side by side in one run.

    .venv/bin/python bench/transform_daemon.py --baseline COMMIT [--seconds 4] [--rounds 4] [--conc 1]

Two ccproxy daemons (the harness's config: defaults, the flow store, one `lightllm.transforms` rule
per upstream wire) run at once: one on `git archive COMMIT src` (PYTHONPATH), one on this tree. The
harness's fake upstream (uvicorn) answers both. For each workload of bench/subjects.py (the two
passthroughs for reference, the four transforms) each round drives each daemon in turn (order
reversed every round) with bench/load.py for `--seconds` and reads the daemon's CPU time from /proc:
CPU ms per request is the CPU the daemon used over the requests it answered. The fake and the driver
run on one CPU and both daemons on the other (taskset, where there are two). Loopback only; not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.daemon import DaemonProcess

from bench.common import source_tree
from bench.harness import cpu_plan
from bench.load import drive
from bench.procfs import cpu_seconds, tree
from bench.subjects import WORKLOADS, Fake, ccproxy_config, workload_request


def main(baseline: str, seconds: float, rounds: int, conc: int, keys: list[str]) -> None:
    fake_cpu, sub_cpu, pinning = cpu_plan(True)
    if fake_cpu is not None:
        os.sched_setaffinity(0, {fake_cpu})
    print(f"# {pinning}; load average {os.getloadavg()[0]:.2f} at the start")
    with tempfile.TemporaryDirectory(prefix="ccproxy-transform-daemon-") as tmp:
        work = Path(tmp)
        old_src = source_tree(baseline, work / "tree", "transform_daemon")
        fake = Fake(fake_cpu, workers=2, log=work / "fake.log", event_gap=0)
        wrap = ["taskset", "-c", str(sub_cpu)] if sub_cpu is not None else []
        daemons = {
            baseline: DaemonProcess(work / "old", ccproxy_config(fake), env={"PYTHONPATH": str(old_src)}, wrap=wrap),
            "this tree": DaemonProcess(work / "new", ccproxy_config(fake), wrap=wrap),
        }
        try:
            for d in daemons.values():
                d.start()
            workloads = [w for w in WORKLOADS if w.key in keys]
            for d in daemons.values():  # warm-up: connections, lazy imports, caches
                for w in workloads:
                    drive("127.0.0.1", d.port, workload_request(w), conc, duration=1.0)
            cpu: dict[tuple[str, str], list[float]] = {}
            rps: dict[tuple[str, str], list[float]] = {}
            for w in workloads:
                for r in range(rounds):
                    names = list(daemons) if r % 2 == 0 else list(reversed(daemons))
                    for name in names:
                        d = daemons[name]
                        assert d.proc is not None
                        pids = tree(d.proc.pid)
                        c0 = cpu_seconds(pids)
                        res = drive("127.0.0.1", d.port, workload_request(w), conc, duration=seconds)
                        used = cpu_seconds(pids) - c0
                        if res.errors or not res.count:
                            raise SystemExit(f"transform_daemon: {name} {w.key}: {res.errors} errors {res.first_error}")
                        cpu.setdefault((w.key, name), []).append(used / res.count * 1e3)
                        rps.setdefault((w.key, name), []).append(res.rps)
        finally:
            for d in daemons.values():
                d.stop()
            fake.stop()
    print(f"load average {os.getloadavg()[0]:.2f} at the end; {rounds} rounds x {seconds:g} s, concurrency {conc}")
    print(f"| workload | {baseline} CPU ms/req | this tree CPU ms/req | ratio | req/s {baseline} | req/s this tree |")
    print("|---|---|---|---|---|---|")
    for w in workloads:
        b, n = (statistics.median(cpu[(w.key, name)]) for name in daemons)
        rb, rn = (statistics.median(rps[(w.key, name)]) for name in daemons)
        print(f"| {w.label} | {b:.2f} | {n:.2f} | {n / b:.2f}x | {rb:.0f} | {rn:.0f} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", metavar="COMMIT", required=True)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--conc", type=int, default=1)
    ap.add_argument("--workloads", default=",".join(w.key for w in WORKLOADS))
    a = ap.parse_args()
    main(a.baseline, a.seconds, a.rounds, a.conc, a.workloads.split(","))
