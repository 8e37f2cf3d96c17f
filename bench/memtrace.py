"""Where the daemon's memory is: runs `python -m ccproxy ARGS` under tracemalloc and writes a
snapshot report whenever a trigger file appears (a thread watches for it, so the daemon's own
signal handling and event loop are untouched).

    python -X tracemalloc=1 -m bench.memtrace OUT_DIR [PYTHON -m ccproxy] start

Touch OUT_DIR/dump-NAME and OUT_DIR/NAME.txt appears: the top allocation sites by size, the
top sites grown since the previous dump, and the loaded modules. `top_sites` formats a
snapshot diff; `python -m bench.daemon_rss --trace DIR` drives the whole thing. A bench tool, not
part of the daemon.
"""

from __future__ import annotations

import runpy
import site
import sys
import sysconfig
import threading
import time
import tracemalloc
from pathlib import Path

TOP = 40


def top_sites(snap: tracemalloc.Snapshot, prev: tracemalloc.Snapshot | None, group: str = "lineno") -> str:
    """A report: traced total, top sites, and (with `prev`) the top growth since then."""
    ignore = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap*"),
    ]
    snap = snap.filter_traces(ignore)
    stats = snap.statistics(group)
    total = sum(s.size for s in stats)
    lines = [f"traced: {total / 2**20:.1f} MiB in {sum(s.count for s in stats)} blocks", "", "top sites:"]
    lines += [f"  {s.size / 2**20:7.2f} MiB {s.count:8d}  {s.traceback}" for s in stats[:TOP]]
    if prev is not None:
        diff = snap.compare_to(prev.filter_traces(ignore), group)
        lines += ["", "grown since the previous dump:"]
        lines += [f"  {d.size_diff / 2**20:+7.2f} MiB {d.count_diff:+8d}  {d.traceback}" for d in diff[:TOP]]
    return "\n".join(lines) + "\n"


def by_package(snap: tracemalloc.Snapshot) -> str:
    """Traced bytes per top-level package (site-packages name or stdlib file)."""
    sizes: dict[str, int] = {}
    for s in snap.statistics("filename"):
        name = s.traceback[0].filename
        if "site-packages/" in name:
            key = name.split("site-packages/", 1)[1].split("/", 1)[0]
        elif "/src/ccproxy/" in name:
            key = "ccproxy/" + name.split("/src/ccproxy/", 1)[1].split("/", 1)[0]
        else:
            key = name.rsplit("/", 1)[-1]
        sizes[key] = sizes.get(key, 0) + s.size
    rows = sorted(sizes.items(), key=lambda kv: -kv[1])[:30]
    return "by package:\n" + "\n".join(f"  {v / 2**20:7.2f} MiB  {k}" for k, v in rows) + "\n"


def short_paths(text: str) -> str:
    """The report without this machine's paths: site-packages/..., stdlib/..., src/ccproxy/..."""
    for prefix, name in [(p, "site-packages") for p in site.getsitepackages()] + [
        (sysconfig.get_paths()["stdlib"], "stdlib"),
        (str(Path(__file__).resolve().parents[1] / "src"), "src"),
    ]:
        text = text.replace(prefix.rstrip("/") + "/", name + "/")
    return text


def _watch(out: Path) -> None:
    prev: tracemalloc.Snapshot | None = None
    while True:
        for trigger in sorted(out.glob("dump-*")):
            name = trigger.name[len("dump-") :]
            snap = tracemalloc.take_snapshot()
            text = top_sites(snap, prev) + "\n" + by_package(snap)
            text += f"\nmodules loaded: {len(sys.modules)}\n"
            text += "\n".join(sorted(m for m in sys.modules if "." not in m)) + "\n"
            (out / f"{name}.txt").write_text(short_paths(text))
            trigger.unlink()
            prev = snap
        time.sleep(0.2)


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    if not tracemalloc.is_tracing():
        tracemalloc.start(1)
    threading.Thread(target=_watch, args=(out,), daemon=True, name="memtrace").start()
    rest = sys.argv[2:]
    if "ccproxy" in rest:  # as a command prefix (DaemonProcess's wrap): drop "PYTHON -m ccproxy"
        rest = rest[rest.index("ccproxy") + 1 :]
    sys.argv = ["ccproxy", *rest]
    runpy.run_module("ccproxy", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
