"""Status rendering: rich table, mermaid stateDiagram-v2, JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest

from ccproxy.pipeline import build_pipelines
from ccproxy.pipeline.render import describe, mermaid_stage, render_mermaid, render_text

ModuleWriter = Callable[[str], str]

HOOKS = """
from ccproxy.pipeline import hook

@hook(writes=["provider", "request.headers.authorization"])
def route(ctx): ...

@hook(reads=["provider"], writes=["request.model"], guard=lambda ctx: True)
def pick_model(ctx, *, api_key: str = "", to: str = "m"): ...

@hook(reads=["request.model", "request.headers"])
def audit(ctx): ...

@hook(reads=["system"])
def lone(ctx): ...

@hook(writes=["request.headers.x-debug"])
def debug(ctx): ...

@debug.on_response(reads=["response.status_code"])
def debug_resp(ctx): ...
"""


@pytest.fixture
def pipes(user_module: ModuleWriter) -> dict:
    m = user_module(HOOKS)
    return build_pipelines(
        {
            "inbound": [
                f"{m}.audit",
                {"hook": f"{m}.pick_model", "params": {"api_key": "sk-secret-value", "to": "haiku"}},
                f"{m}.route",
                f"{m}.lone",
            ],
            "outbound": [{"hook": f"{m}.debug", "enabled": False}],
        }
    )


def test_mermaid_shape(pipes: dict) -> None:
    text = mermaid_stage(pipes["inbound"])
    lines = text.splitlines()
    assert lines[0] == "stateDiagram-v2"
    body = [ln.strip() for ln in lines[1:] if not ln.strip().startswith("%%")]
    states = {m.group(2): m.group(1) for ln in body if (m := re.fullmatch(r'state "([^"]+)" as (\w+)', ln))}
    assert states == {
        "inbound_audit": "audit",
        "inbound_pick_model": "pick_model",
        "inbound_route": "route",
        "inbound_lone": "lone",
    }
    transitions = [
        (m.group(1), m.group(2)) for ln in body if (m := re.fullmatch(r"(\[\*\]|\w+) --> (\[\*\]|\w+)(?::.*)?", ln))
    ]
    # route -> pick_model -> audit; the implied route -> audit edge is left out; lone stands alone.
    assert sorted(transitions) == sorted(
        [
            ("[*]", "inbound_route"),
            ("[*]", "inbound_lone"),
            ("inbound_route", "inbound_pick_model"),
            ("inbound_pick_model", "inbound_audit"),
            ("inbound_audit", "[*]"),
            ("inbound_lone", "[*]"),
        ]
    )
    assert "inbound_route --> inbound_pick_model: writes metadata.provider" in text
    # every line is a state, a transition, a class statement or a comment
    assert len(body) == len(states) + len(transitions)


def test_mermaid_marks_disabled_and_renders_every_stage(pipes: dict) -> None:
    out = render_mermaid(pipes)
    assert out.count("stateDiagram-v2") == 2
    assert 'state "debug (off)" as outbound_debug' in out
    assert "class outbound_debug off" in out
    fenced = render_mermaid(pipes, fenced=True)
    assert fenced.count("```mermaid\nstateDiagram-v2") == 2


def test_mermaid_empty_stage() -> None:
    out = mermaid_stage(build_pipelines({})["inbound"])
    assert out.splitlines()[0] == "stateDiagram-v2" and "[*] --> inbound_empty" in out


def test_text_table(pipes: dict) -> None:
    text = render_text(pipes, width=200)
    assert "inbound hooks" in text and "outbound hooks" in text
    rows = [ln for ln in text.splitlines() if "│" in ln]
    level_of = {}
    current = ""
    for row in rows:
        cells = [c.strip() for c in row.split("│")[1:-1]]
        if cells[0]:
            current = cells[0]
        if cells[1]:
            level_of[cells[1]] = current
    assert level_of["route"] == level_of["lone"] == "0"
    assert level_of["pick_model"] == "1" and level_of["audit"] == "2"
    assert "sk-secret-value" not in text and "api_key='<redacted>'" in text
    assert "off (per request: +debug)" in text


def test_json_description(pipes: dict) -> None:
    d = json.loads(json.dumps(describe(pipes)))
    inbound = d["inbound"]
    assert inbound["request"]["levels"] == [["route", "lone"], ["pick_model"], ["audit"]]
    by_name = {h["name"]: h for h in inbound["hooks"]}
    assert by_name["pick_model"]["params"] == {"api_key": "<redacted>", "to": "haiku"}
    assert by_name["pick_model"]["guard"] is True
    assert by_name["audit"]["reads"] == ["request.body.model", "request.headers"]
    assert {"from": "route", "to": "audit", "reason": "writes request.headers.authorization"} in inbound["request"][
        "edges"
    ]
    out = d["outbound"]
    assert out["hooks"][0]["enabled"] is False
    assert out["hooks"][0]["response"] == {"reads": ["response.status_code"], "writes": []}
    assert out["response"]["levels"] == [["debug"]]
    assert "sk-secret-value" not in json.dumps(d)


@pytest.mark.parametrize("mermaid", [False, True])
def test_print_pipelines(pipes: dict, mermaid: bool) -> None:
    import io

    from rich.console import Console

    from ccproxy.pipeline.render import print_pipelines

    console = Console(file=io.StringIO(), width=200, color_system=None)
    print_pipelines(console, pipes, mermaid=mermaid)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    if mermaid:
        assert out == render_mermaid(pipes)
    else:
        assert "inbound hooks" in out and "│ 0     │ route" in out
