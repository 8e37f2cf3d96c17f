"""Scaffolding the benches share: where the repo and its corpus are, best-of timing, percentiles."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def corpus_dir(arg: str | None = None) -> Path:
    """The recorded corpus: `arg`, else tests/corpus (it ships with the checkout)."""
    path = Path(arg) if arg else REPO / "tests" / "corpus"
    if not path.is_dir():
        raise SystemExit(f"bench: corpus not found at {path} (pass --corpus)")
    return path


def source_tree(commit: str, tmp: Path, who: str) -> Path:
    """`src/` of `commit` (git archive) under `tmp`: a baseline to run with PYTHONPATH."""
    try:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "src"], check=True, capture_output=True)
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"{who}: --baseline {commit}: git archive failed: {e.stderr.decode().strip()}") from e
    target = tmp / "baseline"
    target.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target / "src"


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Best wall time of `repeat` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]
