"""Sliding-window unified diff of request bodies across a flow set: f0→f1, f1→f2, ..."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ccproxy.flows.bodies import pretty_lines


class NotEnoughFlows(ValueError):
    """``flows diff`` compares neighbours, so it needs at least two flows."""


@dataclass(frozen=True)
class PairDiff:
    left_id: str
    right_id: str
    lines: list[str]  # unified diff lines; empty when the bodies are identical


def short_id(flow: dict[str, Any]) -> str:
    return str(flow.get("id", ""))[:8]


def unified(left: list[str], right: list[str], from_label: str, to_label: str) -> list[str]:
    return list(difflib.unified_diff(left, right, fromfile=from_label, tofile=to_label, lineterm=""))


def sliding_diffs(flows: Sequence[dict[str, Any]]) -> Iterator[PairDiff]:
    if len(flows) < 2:
        raise NotEnoughFlows(f"flows diff needs at least 2 flows, the set has {len(flows)}.")
    previous = flows[0]
    previous_lines = pretty_lines(previous.get("request"))
    for flow in flows[1:]:
        lines = pretty_lines(flow.get("request"))
        a, b = short_id(previous), short_id(flow)
        yield PairDiff(a, b, unified(previous_lines, lines, f"flow:{a}", f"flow:{b}"))
        previous, previous_lines = flow, lines


def render_diffs(flows: Sequence[dict[str, Any]]) -> str:
    """Plain text for the whole set; identical neighbours get one line saying so."""
    out: list[str] = []
    for pair in sliding_diffs(flows):
        if pair.lines:
            out.extend(pair.lines)
        else:
            out.append(f"{pair.left_id} → {pair.right_id}: request bodies are identical.")
    return "\n".join(out)
