"""The side-by-side run: every subject up at once, each (workload, concurrency) cell measured
for every subject in turn, the order alternating from round to round so that load from
elsewhere on the machine falls on all of them alike. Fake upstream and driver on one CPU,
the subjects on the other (taskset), where the machine has two."""

from __future__ import annotations

import functools
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import micro, profile
from bench.common import percentile
from bench.load import LoadResult, drive
from bench.procfs import PeakSampler, cpu_seconds, hwm_bytes, rss_bytes, tree
from bench.subjects import (
    WORKLOADS,
    Ccproxy,
    Direct,
    Fake,
    Litellm,
    Mitmdump,
    Subject,
    install_litellm,
)


@dataclass
class Plan:
    concurrencies: list[int]
    duration: float  # seconds per cell and round
    rounds: int
    warmup: int  # requests per subject and workload before measuring
    rss_requests: int  # for the RSS-after-N run (0: skip)
    rss_step: int
    litellm: bool
    micro_scale: float  # 1.0 full, small for smoke
    pin: bool = True
    profile_seconds: float = 0.0  # py-spy each profiled cell this long (0: no profiles)
    event_gap: float = 0.002  # seconds between a fake stream's events (0: back to back)
    workloads: list[str] = field(default_factory=lambda: [w.key for w in WORKLOADS])


@dataclass
class Cell:
    workload: str
    concurrency: int
    subject: str
    results: list[LoadResult] = field(default_factory=list)
    cpu: float = 0.0
    peak_rss: int = 0

    def summary(self) -> dict[str, Any]:
        lat = [x for r in self.results for x in r.latencies]
        ttfb = [x for r in self.results for x in r.ttfbs]
        n = len(lat)
        elapsed = sum(r.elapsed for r in self.results)
        return {
            "workload": self.workload,
            "concurrency": self.concurrency,
            "subject": self.subject,
            "requests": n,
            "errors": sum(r.errors for r in self.results),
            "first_error": next((r.first_error for r in self.results if r.first_error), ""),
            "rps": n / elapsed if elapsed else 0.0,
            "p50_ms": percentile(lat, 50) * 1e3,
            "p95_ms": percentile(lat, 95) * 1e3,
            "p99_ms": percentile(lat, 99) * 1e3,
            "ttfb_p50_ms": percentile(ttfb, 50) * 1e3,
            "cpu_s_per_1k": self.cpu / n * 1000 if n else float("nan"),
            "peak_rss_mb": self.peak_rss / 2**20,
        }


def cpu_plan(pin: bool) -> tuple[int | None, int | None, str]:
    """(fake+driver CPU, subject CPU, how) — pinned only where taskset and two CPUs exist."""
    if not pin:
        return None, None, "not pinned (--no-pin)"
    cpus = sorted(os.sched_getaffinity(0))
    if shutil.which("taskset") and len(cpus) >= 2:
        return cpus[0], cpus[1], f"fake upstream + load driver on CPU {cpus[0]}, subject on CPU {cpus[1]} (taskset)"
    why = "taskset not found (package util-linux)" if not shutil.which("taskset") else "fewer than 2 CPUs"
    return None, None, f"not pinned: {why}"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def measure(sub: Subject, w_key: str, conc: int, plan: Plan, cell: Cell) -> None:
    w = next(x for x in WORKLOADS if x.key == w_key)
    pids = tree(sub.pid())
    c0 = cpu_seconds(pids)
    with PeakSampler(pids) as peak:
        res = drive("127.0.0.1", sub.port, sub.request(w), conc, duration=plan.duration)
    cell.cpu += cpu_seconds(pids) - c0
    cell.peak_rss = max(cell.peak_rss, peak.peak)
    cell.results.append(res)


def rss_run(sub: Subject, total: int, step: int, conc: int) -> list[dict[str, Any]]:
    """RSS of the subject's process tree after every `step` requests, up to `total`."""
    w = WORKLOADS[0]  # passthrough JSON: the flow store fills up and evicts
    req = sub.request(w)
    points = [{"requests": 0, "rss_mb": rss_bytes(tree(sub.pid())) / 2**20, "rps": 0.0, "errors": 0}]
    done = 0
    while done < total:
        n = min(step, total - done)
        res = drive("127.0.0.1", sub.port, req, conc, count=n)
        done += n
        rss = rss_bytes(tree(sub.pid())) / 2**20
        points.append({"requests": done, "rss_mb": rss, "rps": res.rps, "errors": res.errors, "error": res.first_error})
        log(
            f"  {sub.name}: {done} requests, RSS {rss:.1f} MB, {res.rps:.0f} req/s, {res.errors} errors"
            + (f" ({res.first_error})" if res.errors else "")
        )
    return points


PROFILED = [
    ("ccproxy", "openai-json", 1),
    ("ccproxy", "anthropic-sse", 1),
    ("mitmdump (streaming)", "openai-json", 1),
    # the transform goal's misses: where a converted request's time goes
    ("ccproxy", "openai-to-anthropic-json", 16),
    ("ccproxy", "anthropic-to-openai-sse", 16),
]


def profiles(subjects: list[Subject], plan: Plan, notes: list[str]) -> dict[str, Any]:
    """py-spy profiles of ccproxy under the goals' workloads, and of mitmdump as the baseline."""
    out: dict[str, Any] = {}
    by_name = {s.name: s for s in subjects}
    for name, w_key, conc in PROFILED:
        sub, w = by_name.get(name), next(x for x in WORKLOADS if x.key == w_key)
        if sub is None or w_key not in plan.workloads:
            continue
        label = f"{name}: {w.label}, c={conc}"
        log(f"profile: {label}")
        req = sub.request(w)
        result = profile.record(
            sub.pid(),
            plan.profile_seconds,
            functools.partial(drive, "127.0.0.1", sub.port, req, conc, duration=plan.profile_seconds),
        )
        if isinstance(result, str):
            notes.append(result)
            log(result)
            break
        out[label] = result
    return out


def run(plan: Plan, workdir: Path) -> dict[str, Any]:
    fake_cpu, sub_cpu, pinning = cpu_plan(plan.pin)
    if fake_cpu is not None:
        os.sched_setaffinity(0, {fake_cpu})  # the driver shares the fake's CPU, never the subject's
    notes = [pinning]
    log(pinning)
    fake = Fake(fake_cpu, workers=2, log=workdir / "fake.log", event_gap=plan.event_gap)
    subjects: list[Subject] = [Direct(fake)]
    out: dict[str, Any] = {"notes": notes, "cells": [], "rss": {}, "micro": {}, "event_gap": plan.event_gap}
    if plan.event_gap:
        notes.append(
            f"SSE events {plan.event_gap * 1e3:g} ms apart: stream TTFB means something, but at c=1 a stream's "
            "req/s is bounded by the pacing (see docs/performance.md; --event-gap 0 measures stream throughput)"
        )
    else:
        notes.append("SSE events back to back (--event-gap 0): stream throughput; TTFB is not the goal's measure here")
    try:
        subjects.append(Mitmdump(fake, sub_cpu, streaming=False, log=workdir / "mitmdump-buffered.log"))
        subjects.append(Mitmdump(fake, sub_cpu, streaming=True, log=workdir / "mitmdump-streaming.log"))
        ccproxy = Ccproxy(fake, sub_cpu, workdir)
        subjects.append(ccproxy)
        if plan.litellm:
            why = install_litellm()
            if why is None:
                subjects.append(Litellm(fake, sub_cpu, workdir / "litellm", workdir / "litellm.log"))
            else:
                notes.append(why)
                log(why)
        else:
            notes.append("LiteLLM not measured in this run (smoke mode or --no-litellm)")
        log("subjects up: " + ", ".join(s.name for s in subjects))

        for sub in subjects:  # warm-up: first connections, lazy imports, caches
            for w in WORKLOADS:
                if w.key in plan.workloads and sub.supports(w):
                    drive("127.0.0.1", sub.port, sub.request(w), 4, duration=5.0, count=plan.warmup)

        log("micro: CLI start-up")
        out["micro"]["cli"] = micro.cli_startup(ccproxy.daemon.config_dir, repeat=max(1, round(5 * plan.micro_scale)))

        cells: dict[tuple[str, int, str], Cell] = {}
        for w_key in plan.workloads:
            w = next(x for x in WORKLOADS if x.key == w_key)
            for conc in plan.concurrencies:
                for r in range(plan.rounds):
                    order = subjects if r % 2 == 0 else list(reversed(subjects))
                    for sub in order:
                        if not sub.supports(w):
                            continue
                        cell = cells.setdefault((w_key, conc, sub.name), Cell(w_key, conc, sub.name))
                        measure(sub, w_key, conc, plan, cell)
                line = ", ".join(
                    f"{s.name} {cells[(w_key, conc, s.name)].summary()['rps']:.0f}"
                    for s in subjects
                    if (w_key, conc, s.name) in cells
                )
                log(f"{w.label}, c={conc}: req/s {line}")
        out["cells"] = [c.summary() for c in cells.values()]
        out["hwm_mb"] = {s.name: hwm_bytes(tree(s.pid())) / 2**20 for s in subjects}
        if plan.profile_seconds:
            out["profiles"] = profiles(subjects, plan, notes)

        if plan.rss_requests:
            log(f"RSS run: {plan.rss_requests} requests through ccproxy (defaults), concurrency 16")
            out["rss"]["ccproxy"] = rss_run(ccproxy, plan.rss_requests, plan.rss_step, 16)
            out["hwm_mb_after_rss"] = hwm_bytes(tree(ccproxy.pid())) / 2**20
        out["ccproxy_errors_logged"] = ccproxy.daemon.logs().count("Traceback")
    finally:
        for sub in subjects:
            sub.stop()
        fake.stop()

    scale = plan.micro_scale
    log("micro: stream conversion")
    out["micro"]["stream"] = micro.stream_events(max(200, int(4000 * scale)), max(1, round(3 * scale)))
    log("micro: request conversion")
    out["micro"]["requests"] = micro.request_conversion(max(1, round(10 * scale)))
    log("micro: pipeline per hook")
    out["micro"]["pipeline"] = micro.pipeline_per_hook(max(200, int(5000 * scale)), max(1, round(3 * scale)))
    return out
