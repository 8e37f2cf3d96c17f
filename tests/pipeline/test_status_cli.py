"""`ccproxy status` shows the configured pipeline (table, --mermaid, --json), user hooks included."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.support.daemon import DaemonProcess

HOOKS = """
from ccproxy.pipeline import hook

@hook(writes=["request.model"])
def pick_model(ctx, *, to: str = "m"): ...

@hook(reads=["request.model"], writes=["request.headers.x-model"])
def tag_model(ctx): ...
"""


@pytest.fixture
def configured(tmp_path: Path) -> DaemonProcess:
    hooks_dir = tmp_path / "userhooks"
    hooks_dir.mkdir()
    (hooks_dir / "status_hooks.py").write_text(textwrap.dedent(HOOKS))
    return DaemonProcess(
        tmp_path / "cfg",
        {
            "ccproxy": {
                "hooks": {
                    "inbound": ["ccproxy.hooks.extract_session_id"],
                    "outbound": [
                        "status_hooks.tag_model",
                        {"hook": "status_hooks.pick_model", "params": {"to": "haiku"}},
                        {"hook": "ccproxy.hooks.verbose_mode", "enabled": False},
                    ],
                }
            }
        },
        env={"PYTHONPATH": str(hooks_dir)},
    )


def test_status_mermaid(configured: DaemonProcess) -> None:
    out = configured.cli("status", "--mermaid")
    assert out.returncode == 0, out.stderr
    diagrams = out.stdout.split("\n\n")
    assert [d.splitlines()[0] for d in diagrams] == ["stateDiagram-v2", "stateDiagram-v2"]
    outbound = diagrams[1]
    assert "outbound_pick_model --> outbound_tag_model: writes request.body.model" in outbound
    assert 'state "verbose_mode (off)" as outbound_verbose_mode' in outbound


def test_status_json_and_table(configured: DaemonProcess) -> None:
    out = configured.cli("status", "--json")
    assert out.returncode == 1  # nothing running: the proxy bit is set
    pipeline = json.loads(out.stdout)["pipeline"]
    assert pipeline["outbound"]["request"]["levels"] == [["pick_model", "verbose_mode"], ["tag_model"]]
    assert pipeline["inbound"]["hooks"][0]["name"] == "extract_session_id"
    text = configured.cli("status").stdout
    assert "outbound hooks" in text and "pick_model" in text and "tag_model" in text


def test_status_reports_a_broken_pipeline(configured: DaemonProcess) -> None:
    configured.env["PYTHONPATH"] = ""
    out = configured.cli("status")
    assert out.returncode != 0
    assert out.stderr.strip().splitlines() == [
        "ccproxy: error: hooks.outbound[0]: cannot import hook 'status_hooks.tag_model': No module named 'status_hooks'"
    ]
