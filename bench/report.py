"""Turns a harness run into bench/results/: results.json (raw), results.md (tables, ratios,
the #20/#11 goals) and results.png (req/s per workload and concurrency; RSS over requests)."""

# ruff: noqa: RUF001  # the report's typography: multiplication, minus and en-dash signs
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench.subjects import WORKLOADS

DIRECT, MITM, CCPROXY, LITELLM = "direct", "mitmdump (streaming)", "ccproxy", "LiteLLM proxy"


def _f(x: float, digits: int = 2) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _ratio(a: float | None, b: float | None) -> str:
    if not a or not b or math.isnan(a) or math.isnan(b):
        return "—"
    return f"{a / b:.2f}×"


def _index(cells: list[dict[str, Any]]) -> dict[tuple[str, int, str], dict[str, Any]]:
    return {(c["workload"], c["concurrency"], c["subject"]): c for c in cells}


def goals(run: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(goal, figure, met?) for #20's and #11's goals, from this run only."""
    idx = _index(run["cells"])
    concs = sorted({c["concurrency"] for c in run["cells"]})
    out = []

    def get(w: str, c: int, s: str, k: str) -> float | None:
        cell = idx.get((w, c, s))
        return cell[k] if cell else None

    ratios = []
    for c in concs:
        a, b = get("openai-json", c, CCPROXY, "rps"), get("openai-json", c, MITM, "rps")
        if a and b:
            ratios.append((c, a / b))
    if ratios:
        fig = ", ".join(f"c={c}: {r:.2f}×" for c, r in ratios)
        ok = all(r >= 0.9 for _, r in ratios)
        out.append(("passthrough req/s ≥ 0.9× mitmdump-streaming at every concurrency", fig, _met(ok)))
    a, b = get("openai-json", 1, CCPROXY, "p50_ms"), get("openai-json", 1, MITM, "p50_ms")
    if a is not None and b is not None:
        goal = "latency added over mitmdump ≤ 0.3 ms at c=1 (p50, OpenAI JSON)"
        out.append((goal, f"{a - b:+.2f} ms", _met(a - b <= 0.3)))
    a, b = get("anthropic-sse", 1, CCPROXY, "ttfb_p50_ms"), get("anthropic-sse", 1, MITM, "ttfb_p50_ms")
    paced = run.get("event_gap", 0.002) > 0
    if a is not None and b is not None and paced:
        out.append(("stream TTFB added over mitmdump ≤ 0.5 ms (p50, c=1)", f"{a - b:+.2f} ms", _met(a - b <= 0.5)))
    elif a is not None and b is not None:
        out.append(("stream TTFB added over mitmdump ≤ 0.5 ms (p50, c=1)", "not measured: events unpaced", "—"))
    tr = []
    for w in WORKLOADS:
        if not w.transform:
            continue
        for c in concs:
            a, b = get(w.key, c, CCPROXY, "rps"), get(w.key, c, LITELLM, "rps")
            if a and b:
                tr.append((w.key, c, a / b))
    if tr:
        worst = min(tr, key=lambda t: t[2])
        fig = f"min {worst[2]:.1f}× ({worst[0]}, c={worst[1]}), max {max(t[2] for t in tr):.1f}×"
        ceilings = _paced_ceilings(get, [w for w in WORKLOADS if w.transform and w.stream]) if paced else ""
        if ceilings:
            fig += "; " + ceilings
        out.append(("transform req/s ≥ 8× LiteLLM on the same workload", fig, _met(all(t[2] >= 8 for t in tr))))
    pts = run.get("rss", {}).get("ccproxy") or []
    at = {p["requests"]: p["rss_mb"] for p in pts}
    if pts and pts[-1]["requests"] >= 20000 and 10000 in at:
        last = pts[-1]
        lo = min(p["rss_mb"] for p in pts if p["requests"] >= 10000)
        hi = max(p["rss_mb"] for p in pts if p["requests"] >= 10000)
        drift = last["rss_mb"] / at[10000] - 1
        fig = (
            f"{at[10000]:.0f} MB at 10k → {last['rss_mb']:.0f} MB at {last['requests'] // 1000}k "
            f"({drift:+.1%}; range {lo:.0f}–{hi:.0f} MB)"
        )
        ok = hi <= 150 and lo >= at[10000] * 0.9 and hi <= at[10000] * 1.1
        out.append(("RSS ≤ 150 MB and flat ±10% from 10k to 100k requests", fig, _met(ok)))
    cli = {r["command"]: r for r in run.get("micro", {}).get("cli", [])}
    for cmd in ("ccproxy flows list", "ccproxy run -- true"):
        if cmd in cli:
            r = cli[cmd]
            fig = f"{r['median_s']:.2f} s" + (f" (failed: {r['error']})" if r["error"] else "")
            out.append((f"`{cmd}` starts in ≤ 0.25 s", fig, _met(r["median_s"] <= 0.25 and not r["error"])))
    return out


def _paced_ceilings(get: Any, streams: list[Any]) -> str:
    """The most any proxy could reach over LiteLLM on a paced stream at c=1: the fake's pacing alone
    takes `direct`'s latency, so ccproxy at zero cost would be LiteLLM's latency over direct's."""
    bounds = []
    for w in streams:
        lite, direct = get(w.key, 1, LITELLM, "p50_ms"), get(w.key, 1, DIRECT, "p50_ms")
        if lite and direct:
            bounds.append(f"{w.key} ≤ {lite / direct:.1f}×")
    return "c=1 SSE ceilings set by the fake's pacing: " + ", ".join(bounds) if bounds else ""


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def markdown(run: dict[str, Any]) -> str:
    m = run["machine"]
    lines = [
        "# ccproxy benchmark harness results",
        "",
        f"Run {m['date']} on {m['cpu']} ({m['cpus']} CPUs), {m['kernel']}, Python {m['python']}, "
        f"mitmproxy {m['mitmproxy']}{', LiteLLM ' + m['litellm'] if m.get('litellm') else ''}.",
        f"Load average before: {m['load_before']}; after: {m['load_after']}. Mode: {m['mode']}; "
        f"command: `{m['command']}`.",
        "",
        *[f"- {n}" for n in run["notes"]],
        "",
        "Absolute numbers hold for this machine only; compare subjects by the ratios, measured side by side "
        "in this one run (alternating order). Latency is send → last body byte; TTFB is send → first body byte; "
        "added = subject − direct at the same concurrency. CPU is user+system seconds of the subject's own "
        "process tree (for `direct`: the fake upstream's) per 1,000 requests.",
        "",
        "## Goals (issues #20, #11)",
        "",
        "| goal | this run | |",
        "|---|---|---|",
        *[f"| {g} | {fig} | {ok} |" for g, fig, ok in goals(run)],
        "",
    ]
    idx = _index(run["cells"])
    concs = sorted({c["concurrency"] for c in run["cells"]})
    subjects = list(dict.fromkeys(c["subject"] for c in run["cells"]))
    for w in WORKLOADS:
        if not any(k[0] == w.key for k in idx):
            continue
        lines += [f"## {w.label}", ""]
        head = "| subject | conns | req/s | × direct | × mitmdump-str. | p50 ms | p95 ms | p99 ms "
        head += "| added p50/p95/p99 ms |"
        sep = "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        if w.stream:
            head += " TTFB p50 ms | TTFB added ms |"
            sep += "---:|---:|"
        head += " CPU s/1k | peak RSS MB | errors |"
        sep += "---:|---:|---:|"
        lines += [head, sep]
        for c in concs:
            d = idx.get((w.key, c, DIRECT))
            mm = idx.get((w.key, c, MITM))
            for s in subjects:
                x = idx.get((w.key, c, s))
                if not x:
                    continue
                added = "/".join(_f(x[k] - d[k]) for k in ("p50_ms", "p95_ms", "p99_ms")) if d else "—"
                row = (
                    f"| {s} | {c} | {x['rps']:.0f} | {_ratio(x['rps'], d and d['rps'])} | "
                    f"{_ratio(x['rps'], mm and mm['rps'])} | {_f(x['p50_ms'])} | {_f(x['p95_ms'])} | "
                    f"{_f(x['p99_ms'])} | {added} |"
                )
                if w.stream:
                    row += f" {_f(x['ttfb_p50_ms'])} | {_f(x['ttfb_p50_ms'] - d['ttfb_p50_ms']) if d else '—'} |"
                err = f"{x['errors']}" + (f" ({x['first_error']})" if x["errors"] else "")
                row += f" {_f(x['cpu_s_per_1k'], 3)} | {x['peak_rss_mb']:.0f} | {err} |"
                lines.append(row)
        if w.transform:
            lines += ["", "`direct` here sends the upstream's own format to the fake (no proxy)."]
        lines.append("")
    hwm = run.get("hwm_mb", {})
    if hwm:
        lines += ["## Memory", "", "| subject | peak RSS (VmHWM, summed over its processes) MB |", "|---|---:|"]
        lines += [f"| {s} | {v:.0f} |" for s, v in hwm.items()]
        lines.append("")
    pts = run.get("rss", {}).get("ccproxy")
    if pts:
        lines += [
            "### ccproxy RSS over requests (defaults: default hooks, default flow store; OpenAI JSON, 16 conns)",
            "",
            "| requests | RSS MB | req/s in this step | errors |",
            "|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {p['requests']} | {p['rss_mb']:.1f} | {p['rps']:.0f} | {p['errors']} {p.get('error', '')} |"
            for p in pts
        ]
        if "hwm_mb_after_rss" in run:
            lines.append(f"\nPeak RSS (VmHWM) after the run: {run['hwm_mb_after_rss']:.0f} MB.")
        lines.append("")
    for label, prof in run.get("profiles", {}).items():
        lines += [f"## Profile: {label} ({prof['samples']} py-spy samples, % of busy samples)", ""]
        lines += ["| self time: function | % |", "|---|---:|"]
        lines += [f"| `{f}` | {p:.1f} |" for f, p in prof["self"]]
        lines += ["", "| inclusive, ccproxy and mitmproxy functions | % |", "|---|---:|"]
        lines += [f"| `{f}` | {p:.1f} |" for f, p in prof["inclusive"]]
        lines.append("")
    mic = run.get("micro", {})
    if mic.get("cli"):
        lines += ["## CLI start-up (median wall time, daemon running)", "", "| command | s | |", "|---|---:|---|"]
        lines += [f"| `{r['command']}` | {r['median_s']:.3f} | {r['error']} |" for r in mic["cli"]]
        lines.append("")
    if mic.get("stream"):
        lines += [
            "## Streaming conversion (upstream events per CPU-second, one core)",
            "",
            "| direction | events | events/s | same-format passthrough events/s |",
            "|---|---:|---:|---:|",
        ]
        lines += [
            f"| {r['direction']} | {r['events']} | {r['events_s']:,.0f} | {r['passthrough_events_s']:,.0f} |"
            for r in mic["stream"]
        ]
        lines.append("")
    if mic.get("requests"):
        lines += [
            "## Body conversion (tests/corpus; per second, mean over the other wires)",
            "",
            "| source wire | kind | bodies | converted/s | JSON decode+encode/s (floor) | cost × |",
            "|---|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r['wire']} | {r['kind']} | {r['bodies']} | {r['per_s']:,.0f} | {r['json_per_s']:,.0f} "
            f"| {r['cost_x']:.1f} |"
            for r in mic["requests"]
        ]
        lines.append("")
    if mic.get("pipeline"):
        lines += ["## Hook pipeline (µs per request, 10 hooks; per hook = (10 hooks − 0) / 10)", ""]
        lines += ["| variant | µs/request | µs per hook |", "|---|---:|---:|"]
        lines += [f"| {r['variant']} | {r['us_request']:.2f} | {r['us_per_hook']:.2f} |" for r in mic["pipeline"]]
        lines.append("")
    return "\n".join(lines)


def chart(run: dict[str, Any], path: Path) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "chart skipped: matplotlib missing (uv sync --group bench)"
    idx = _index(run["cells"])
    concs = sorted({c["concurrency"] for c in run["cells"]})
    subjects = list(dict.fromkeys(c["subject"] for c in run["cells"]))
    keys = [w.key for w in WORKLOADS if any(k[0] == w.key for k in idx)]
    pts = run.get("rss", {}).get("ccproxy")
    n = len(concs) + (1 if pts else 0)
    fig, axes = plt.subplots(n, 1, figsize=(11, 3.6 * n), squeeze=False)
    width = 0.8 / max(1, len(subjects))
    for ax, c in zip(axes[:, 0], concs, strict=False):
        for i, s in enumerate(subjects):
            ys = [idx[(k, c, s)]["rps"] if (k, c, s) in idx else 0 for k in keys]
            ax.bar([j + i * width for j in range(len(keys))], ys, width, label=s)
        ax.set_yscale("log")
        ax.set_ylabel("req/s (log)")
        ax.set_title(f"{c} connection{'s' if c > 1 else ''}")
        ax.set_xticks([j + width * (len(subjects) - 1) / 2 for j in range(len(keys))])
        ax.set_xticklabels(keys, fontsize=8)
        ax.legend(fontsize=7, ncol=len(subjects))
    if pts:
        ax = axes[-1, 0]
        ax.plot([p["requests"] for p in pts], [p["rss_mb"] for p in pts], marker="o", label="ccproxy RSS")
        ax.axhline(150, color="red", linestyle="--", label="goal 150 MB")
        ax.set_xlabel("requests")
        ax.set_ylabel("RSS MB")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
        ax.set_title("ccproxy RSS over requests (defaults)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return None


def write(run: dict[str, Any], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "results.json", out / "results.md"]
    why = chart(run, out / "results.png")
    if why:
        run["notes"].append(why)
        print(why)
    else:
        files.append(out / "results.png")
    (out / "results.json").write_text(json.dumps(run, indent=1, default=str) + "\n")
    (out / "results.md").write_text(markdown(run) + "\n")
    return files
