"""Show the pipeline: a rich table per stage, mermaid stateDiagram-v2, and a JSON description."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any

from rich.console import Console, Group
from rich.table import Table

from ccproxy.pipeline.loader import ConfiguredHook
from ccproxy.pipeline.runner import Pipeline, Plan

_SECRET = re.compile(r"key|token|secret|password|auth|cookie", re.I)


def _params(h: ConfiguredHook) -> dict[str, Any]:
    # Params are user config and may hold credentials; never print their values.
    return {k: ("<redacted>" if _SECRET.search(k) else v) for k, v in h.params.items()}


def _plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "levels": [[h.name for h in level] for level in plan.levels],
        "edges": [{"from": a, "to": b, "reason": why} for a, b, why in plan.edges],
    }


def describe(pipelines: Mapping[str, Pipeline]) -> dict[str, Any]:
    """JSON-ready description of every stage (for `ccproxy status --json`)."""
    out: dict[str, Any] = {}
    for stage, p in pipelines.items():
        level_of = {h.name: i for i, level in enumerate(p.request_plan.levels) for h in level}
        hooks = []
        for h in p.hooks:
            resp = h.spec.response
            hooks.append(
                {
                    "name": h.name,
                    "source": h.source,
                    "enabled": h.enabled,
                    "level": level_of.get(h.name),
                    "reads": list(h.spec.reads),
                    "writes": list(h.spec.writes),
                    "guard": h.spec.guard is not None,
                    "params": _params(h),
                    "response": None if resp is None else {"reads": list(resp.reads), "writes": list(resp.writes)},
                    "description": h.spec.description,
                }
            )
        out[stage] = {"hooks": hooks, "request": _plan_json(p.request_plan)}
        if p.response_plan.hooks:
            out[stage]["response"] = _plan_json(p.response_plan)
    return out


def _notes(h: ConfiguredHook) -> str:
    notes = []
    if not h.enabled:
        notes.append(f"[yellow]off[/] (per request: +{h.name})")
    if h.spec.guard is not None:
        notes.append("guarded")
    if h.spec.response is not None:
        notes.append("+response")
    if h.params:
        notes.append(", ".join(f"{k}={v!r}" for k, v in _params(h).items()))
    return "\n".join(notes)


def table(pipeline: Pipeline) -> Table:
    t = Table(title=f"{pipeline.stage} hooks", title_justify="left")
    t.add_column("Level", no_wrap=True, min_width=5)
    # Fold rather than truncate: on a narrow terminal a cut-off path would name the wrong thing.
    for col in ("Hook", "Reads", "Writes"):
        t.add_column(col, overflow="fold")
    t.add_column("Notes", overflow="fold", min_width=10)
    if not pipeline.hooks:
        t.add_row("-", "[dim](none)[/]", "", "", "")
    for i, level in enumerate(pipeline.request_plan.levels):
        for j, h in enumerate(level):
            name = h.name if h.enabled else f"[dim]{h.name}[/]"
            t.add_row(str(i) if j == 0 else "", name, "\n".join(h.spec.reads), "\n".join(h.spec.writes), _notes(h))
        if i < len(pipeline.request_plan.levels) - 1:
            t.add_section()
    return t


def renderable(pipelines: Mapping[str, Pipeline]) -> Group:
    return Group(*(table(p) for p in pipelines.values()))


def render_text(pipelines: Mapping[str, Pipeline], width: int = 120) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False)
    console.print(renderable(pipelines))
    return console.file.getvalue()  # type: ignore[attr-defined]


def _sid(stage: str, name: str) -> str:
    return re.sub(r"\W", "_", f"{stage}_{name}")


def _reduced(plan: Plan) -> list[tuple[str, str, str]]:
    """Drop edges implied by longer paths, so the diagram shows the order, not every dependency."""
    succ: dict[str, set[str]] = {}
    for a, b, _ in plan.edges:
        succ.setdefault(a, set()).add(b)

    def reach(src: str, dst: str, skip: tuple[str, str]) -> bool:
        stack, seen = [src], set()
        while stack:
            node = stack.pop()
            for nxt in succ.get(node, ()):
                if (node, nxt) == skip or nxt in seen:
                    continue
                if nxt == dst:
                    return True
                seen.add(nxt)
                stack.append(nxt)
        return False

    return [(a, b, why) for a, b, why in plan.edges if not reach(a, b, (a, b))]


def mermaid_stage(pipeline: Pipeline) -> str:
    """One stateDiagram-v2 for a stage: [*] -> hooks in dependency order -> [*]."""
    stage = pipeline.stage
    plan = pipeline.request_plan
    lines = ["stateDiagram-v2", f"    %% ccproxy {stage} hooks"]
    if not plan.hooks:
        lines += [
            f'    state "no hooks" as {stage}_empty',
            f"    [*] --> {stage}_empty",
            f"    {stage}_empty --> [*]",
        ]
        return "\n".join(lines) + "\n"
    for h in plan.hooks:
        label = h.name if h.enabled else f"{h.name} (off)"
        lines.append(f'    state "{label}" as {_sid(stage, h.name)}')
    edges = _reduced(plan)
    has_pred = {b for _, b, _ in edges}
    has_succ = {a for a, _, _ in edges}
    for h in plan.hooks:
        if h.name not in has_pred:
            lines.append(f"    [*] --> {_sid(stage, h.name)}")
    for a, b, why in edges:
        lines.append(f"    {_sid(stage, a)} --> {_sid(stage, b)}: {why}")
    for h in plan.hooks:
        if h.name not in has_succ:
            lines.append(f"    {_sid(stage, h.name)} --> [*]")
    off = [h for h in plan.hooks if not h.enabled]
    if off:
        lines.append("    classDef off stroke-dasharray: 5 5")
        lines.append("    class " + ",".join(_sid(stage, h.name) for h in off) + " off")
    return "\n".join(lines) + "\n"


def render_mermaid(pipelines: Mapping[str, Pipeline], fenced: bool = False) -> str:
    """Every stage's diagram, separated by a blank line (fenced for markdown if asked)."""
    parts = [mermaid_stage(p) for p in pipelines.values()]
    if fenced:
        parts = [f"```mermaid\n{p}```\n" for p in parts]
    return "\n".join(parts)


def print_pipelines(console: Console, pipelines: Mapping[str, Pipeline], *, mermaid: bool = False) -> None:
    """What `ccproxy status` prints for the pipeline: tables, or plain mermaid text with --mermaid."""
    if mermaid:
        # Plain text so the output pipes straight into mermaid tooling; no rich markup.
        console.out(render_mermaid(pipelines), end="", highlight=False)
    else:
        console.print(renderable(pipelines))
