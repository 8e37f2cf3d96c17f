from __future__ import annotations

import json
from typing import Any

import pytest
from flowkit import make_flow, to_contract

from ccproxy.flows.jqchain import compile_chain
from ccproxy.flows.render import ROW_PROJECTION, ago, render_flows, render_table


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (0, "0 seconds ago"),
        (1, "1 second ago"),
        (42, "42 seconds ago"),
        (60, "1 minute ago"),
        (3599, "59 minutes ago"),
        (7200, "2 hours ago"),
        (86400 * 3, "3 days ago"),
        (-5, "in the future"),
    ],
)
def test_ago(delta: int, text: str) -> None:
    assert ago(1000.0, now=1000.0 + delta) == text


def test_projection_renders_the_same_table(mixed_contract: list[dict[str, Any]]) -> None:
    projected = compile_chain(["."], tail=ROW_PROJECTION).run(json.dumps(mixed_contract))
    now = 2_000_000_000.0
    assert render_flows(projected, 100, now) == render_flows(mixed_contract, 100, now)
    assert len(json.dumps(projected)) < len(json.dumps(mixed_contract)) / 3


@pytest.mark.parametrize("width", [60, 80, 100, 200])
def test_table_fits_width_and_keeps_ids(mixed_contract: list[dict[str, Any]], width: int) -> None:
    lines = render_flows(mixed_contract, width).splitlines()
    assert max(len(ln) for ln in lines) <= max(width, 60)
    ids = [ln.split("│")[1].strip() for ln in lines if ln.startswith("│")]
    assert ids == [f["id"][:8] for f in mixed_contract]  # ID never truncated


def test_truncation_uses_ellipsis_on_flexible_columns() -> None:
    flow = to_contract(make_flow("https://api.anthropic.com/v1/messages?beta=true&" + "x" * 80))
    row = next(ln for ln in render_flows([flow], 80).splitlines() if ln.startswith("│"))
    cells = [c.strip() for c in row.split("│")[1:-1]]
    assert cells[4].endswith("…") and cells[4].startswith("/v1/")
    assert cells[1] == "POST" and cells[2] == "200"


def test_wide_characters_are_measured_in_cells() -> None:
    table = render_table(("A", "B"), [("日本語のテキスト" * 3, "x")], max_width=30)
    from rich.cells import cell_len

    assert all(cell_len(ln) <= 30 for ln in table.splitlines())
