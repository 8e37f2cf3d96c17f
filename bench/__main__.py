"""ccproxy's benchmark harness (issue #20): one entry point for the side-by-side run and the
micro-benchmarks.

    python -m bench            full run, results in bench/results/ (~15 min on 2 cores)
    python -m bench --smoke    seconds: checks the harness end to end (CI); results in a temp dir
    ./dev bench [...]          the same, after syncing the `bench` dependency group

Subjects: direct to the fake upstream, mitmdump (buffered, streaming), ccproxy (defaults),
LiteLLM's proxy (installed into the bench's own cache dir on first use). Everything runs on
127.0.0.1; as root the whole run happens inside a fresh network namespace (unshare --net),
so that nothing, LiteLLM included, can reach anything but loopback. Benchmarks, not tests.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import harness, report
from bench.common import REPO
from bench.subjects import WORKLOADS, install_litellm, litellm_exe

NETNS_ENV = "CCPROXY_BENCH_NETNS"


def _args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="a few seconds: check the harness works")
    ap.add_argument("--out", type=Path, help="results directory (default bench/results; smoke: a temp dir)")
    ap.add_argument("--duration", type=float, help="seconds per cell and round (default 3; smoke 0.3)")
    ap.add_argument("--rounds", type=int, help="rounds per cell, alternating order (default 2; smoke 1)")
    ap.add_argument("--concurrency", help="comma-separated (default 1,16,64; smoke 1,4)")
    ap.add_argument("--workloads", help="comma-separated keys: " + ", ".join(w.key for w in WORKLOADS))
    ap.add_argument("--rss-requests", type=int, help="requests of the RSS run (default 100000; smoke 400; 0 skips)")
    ap.add_argument("--no-litellm", action="store_true", help="leave LiteLLM out (smoke always does)")
    ap.add_argument("--no-pin", action="store_true", help="do not pin fake and subjects to CPUs (taskset)")
    ap.add_argument("--no-netns", action="store_true", help="do not re-run inside unshare --net")
    ap.add_argument(
        "--event-gap",
        type=float,
        default=0.002,
        help="seconds between the fake's SSE events (default 0.002, for TTFB; 0: back to back, for stream req/s)",
    )
    return ap.parse_args(argv)


def _plan(a: argparse.Namespace) -> harness.Plan:
    smoke = a.smoke
    rss = a.rss_requests if a.rss_requests is not None else (400 if smoke else 100_000)
    conc = a.concurrency or ("1,4" if smoke else "1,16,64")
    keys = a.workloads.split(",") if a.workloads else [w.key for w in WORKLOADS]
    unknown = [k for k in keys if k not in {w.key for w in WORKLOADS}]
    if unknown:
        raise SystemExit(f"bench: unknown workload {unknown[0]!r} (known: {', '.join(w.key for w in WORKLOADS)})")
    return harness.Plan(
        concurrencies=[int(c) for c in conc.split(",")],
        duration=a.duration or (0.3 if smoke else 3.0),
        rounds=a.rounds or (1 if smoke else 2),
        warmup=20 if smoke else 200,
        rss_requests=rss,
        rss_step=200 if smoke else 10_000,
        litellm=not (smoke or a.no_litellm),
        micro_scale=0.05 if smoke else 1.0,
        workloads=keys,
        pin=not a.no_pin,
        profile_seconds=1.0 if smoke else 10.0,
        event_gap=a.event_gap,
    )


def _netns_argv(argv: list[str]) -> list[str] | None:
    """The command that re-runs us in a new network namespace with only loopback, if we can."""
    if os.environ.get(NETNS_ENV) or os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("ip")):
        return None
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True)
    if probe.returncode != 0:
        return None
    inner = shlex.join([sys.executable, "-m", "bench", *argv])
    return ["unshare", "--net", "sh", "-c", f"ip link set lo up && exec {inner}"]


def _machine(mode: str, argv: list[str]) -> dict[str, Any]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    lite = _litellm_version()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "kernel": platform.platform(),
        "python": platform.python_version(),
        "mitmproxy": metadata.version("mitmproxy"),
        "litellm": lite,
        "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "mode": mode,
        "command": "python -m bench " + " ".join(argv),
    }


def _litellm_version() -> str:
    if not litellm_exe().exists():
        return ""
    py = litellm_exe().with_name("python")
    done = subprocess.run(
        [str(py), "-c", "import importlib.metadata as m; print(m.version('litellm'))"], capture_output=True, text=True
    )
    return done.stdout.strip()


def _smoke_failures(run: dict[str, Any]) -> list[str]:
    bad = []
    for c in run["cells"]:
        if c["requests"] == 0 or c["errors"]:
            where = f"{c['workload']} c={c['concurrency']} {c['subject']}"
            bad.append(f"{where}: {c['requests']} ok, {c['errors']} errors {c['first_error']}")
    if not run.get("rss", {}).get("ccproxy"):
        bad.append("RSS run produced no points")
    for key in ("cli", "stream", "requests", "pipeline"):
        if not run.get("micro", {}).get(key):
            bad.append(f"micro-benchmark {key} produced nothing")
    bad += [f"CLI: {r['command']} failed: {r['error']}" for r in run.get("micro", {}).get("cli", []) if r["error"]]
    return bad


def main(argv: list[str]) -> int:
    a = _args(argv)
    plan = _plan(a)
    if plan.litellm:
        why = install_litellm()  # before the namespace: this is the one step that needs PyPI
        if why:
            print(why)
    if not a.no_netns and (wrapped := _netns_argv(argv)):
        env = {**os.environ, NETNS_ENV: "1"}
        return subprocess.run(wrapped, env=env, cwd=REPO).returncode
    out = a.out or (Path(tempfile.mkdtemp(prefix="ccproxy-bench-smoke-")) if a.smoke else REPO / "bench" / "results")
    mode = "smoke" if a.smoke else "full"
    machine = _machine(mode, argv)
    netns = (
        "inside a fresh network namespace (unshare --net, loopback only)"
        if os.environ.get(NETNS_ENV)
        else ("in the host network namespace, loopback only (not root, no unshare, or --no-netns)")
    )
    with tempfile.TemporaryDirectory(prefix="ccproxy-bench-") as tmp:
        try:
            run = harness.run(plan, Path(tmp))
        except RuntimeError as e:
            print(f"bench: {e}", file=sys.stderr)
            for log in sorted(Path(tmp).rglob("*.log")) + sorted(Path(tmp).rglob("daemon.stderr")):
                tail = log.read_text(errors="replace").strip().splitlines()[-5:]
                if tail:
                    print(f"--- {log.name}:\n" + "\n".join(tail), file=sys.stderr)
            return 1
    run["notes"].insert(0, f"Run {netns}.")
    machine["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    run["machine"] = machine
    files = report.write(run, out)
    for f in files:
        print(f"bench: wrote {f}")
    if a.smoke:
        bad = _smoke_failures(run)
        for b in bad:
            print(f"bench smoke: {b}", file=sys.stderr)
        if bad:
            return 1
        print("bench smoke: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
