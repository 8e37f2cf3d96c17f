"""Where a subject's time goes under load: py-spy samples the process while the driver runs
one workload, and the collapsed stacks are summed per function (self and inclusive)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

_LINE = re.compile(r":\d+\)$")


def py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def _frame(raw: str) -> str:
    return _LINE.sub(")", raw.strip())  # one entry per function, not per line


def summarize(collapsed: str, top: int = 15) -> dict[str, Any]:
    """Self and inclusive shares per function, over all sampled (non-idle) stacks."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        # with -s, py-spy puts a `process PID:"cmdline"` frame at the root: not a function
        frames = [_frame(f) for f in stack.split(";") if not f.startswith("process ")]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    if not total:
        return {"samples": 0, "self": [], "inclusive": []}

    def share(c: Counter[str], keep: Any) -> list[tuple[str, float]]:
        return [(f, n / total * 100) for f, n in c.most_common() if keep(f)][:top]

    def ours(f: str) -> bool:
        return "ccproxy/" in f or "mitmproxy/" in f

    return {"samples": total, "self": share(own, lambda f: True), "inclusive": share(incl, ours)}


def record(pid: int, seconds: float, during: Any) -> dict[str, Any] | str:
    """Samples `pid` (and its children) while `during()` runs; returns the summary or why not."""
    exe = py_spy()
    if exe is None:
        return "profile skipped: py-spy missing (package py-spy, in the bench group: uv sync --group bench)"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "stacks.txt"
        argv = [exe, "record", "--nonblocking", "-s", "-f", "raw", "-r", "250", "-d", str(int(seconds))]
        argv += ["-p", str(pid), "-o", str(out)]
        spy = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        during()
        try:
            _, err = spy.communicate(timeout=seconds + 60)
        except subprocess.TimeoutExpired:
            spy.kill()
            return "profile skipped: py-spy did not finish"
        if spy.returncode != 0 or not out.exists():
            last = (err.strip().splitlines() or [f"exit {spy.returncode}"])[-1]
            return f"profile skipped: py-spy failed ({last}; it needs ptrace, e.g. root)"
        return summarize(out.read_text())
