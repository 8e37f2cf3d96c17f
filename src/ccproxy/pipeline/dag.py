"""Order a stage's hooks from their declared reads/writes.

Rules, for every pair of hooks (a listed before b):
- both write overlapping paths -> a before b (list order decides between writers);
- otherwise whoever writes a path the other reads runs first;
- if each writes what the other reads, that is a cycle.
Levels are longest-path layers: hooks in one level never depend on each other
and may run concurrently.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ccproxy.pipeline.paths import overlaps


class Node(Protocol):
    @property
    def name(self) -> str: ...


class CycleError(ValueError):
    """The declared reads/writes of some hooks depend on each other in a loop."""


@dataclass(frozen=True, slots=True)
class Edge:
    src: int
    dst: int
    reason: str


def _first_overlap(xs: tuple[str, ...], ys: tuple[str, ...]) -> str | None:
    for x in xs:
        for y in ys:
            if overlaps(x, y):
                return x if len(x) >= len(y) else y
    return None


def edges_of(rw: Sequence[tuple[tuple[str, ...], tuple[str, ...]]]) -> list[Edge]:
    """Dependency edges between nodes given as (reads, writes) in list order."""
    out: list[Edge] = []
    for a in range(len(rw)):
        ra, wa = rw[a]
        for b in range(a + 1, len(rw)):
            rb, wb = rw[b]
            both = _first_overlap(wa, wb)
            if both is not None:
                out.append(Edge(a, b, f"both write {both}"))
                continue
            a_feeds_b = _first_overlap(wa, rb)
            b_feeds_a = _first_overlap(wb, ra)
            if a_feeds_b is not None:
                out.append(Edge(a, b, f"writes {a_feeds_b}"))
            if b_feeds_a is not None:
                out.append(Edge(b, a, f"writes {b_feeds_a}"))
    return out


def _find_cycle(edges: list[Edge], left: set[int]) -> list[int]:
    succ: dict[int, list[int]] = {i: [] for i in left}
    for e in edges:
        if e.src in left and e.dst in left:
            succ[e.src].append(e.dst)
    # Iterative DFS until a node on the current path repeats.
    for start in sorted(left):
        stack, on_stack, seen = [start], {start}, set()
        iters = {start: iter(succ[start])}
        while stack:
            node = stack[-1]
            nxt = next(iters[node], None)
            if nxt is None:
                stack.pop()
                on_stack.discard(node)
                seen.add(node)
            elif nxt in on_stack:
                return [*stack[stack.index(nxt) :], nxt]
            elif nxt not in seen:
                stack.append(nxt)
                on_stack.add(nxt)
                iters[nxt] = iter(succ[nxt])
    return sorted(left)


def levels_of(names: Sequence[str], edges: list[Edge]) -> list[list[int]]:
    """Longest-path layering (Kahn); raises CycleError naming the hooks in a cycle."""
    n = len(names)
    preds: dict[int, list[int]] = {i: [] for i in range(n)}
    for e in edges:
        preds[e.dst].append(e.src)
    level: dict[int, int] = {}
    remaining = set(range(n))
    while remaining:
        ready = [i for i in sorted(remaining) if all(p in level for p in preds[i])]
        if not ready:
            cycle = _find_cycle(edges, remaining)
            why = {(e.src, e.dst): e.reason for e in edges}
            steps = [
                f"{names[a]} -> {names[b]} ({names[a]} {why.get((a, b), 'depends')})"
                for a, b in itertools.pairwise(cycle)
            ]
            raise CycleError(
                "hook dependency cycle between "
                + ", ".join(sorted({names[i] for i in cycle}))
                + ": "
                + "; ".join(steps)
            )
        for i in ready:
            level[i] = 1 + max((level[p] for p in preds[i]), default=-1)
            remaining.discard(i)
    depth = max(level.values(), default=-1) + 1
    return [[i for i in range(n) if level[i] == d] for d in range(depth)]
