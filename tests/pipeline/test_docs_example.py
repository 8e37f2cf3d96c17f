"""The ten-line user hook in docs/hooks.md works as documented."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from mitmproxy import http

from ccproxy.pipeline import build_pipelines

DOC = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"
FlowFactory = Callable[..., http.HTTPFlow]


@pytest.mark.parametrize(
    ("path", "model", "expected"),
    [
        ("/v1/messages", "claude-opus-4-1", "claude-haiku-4-5"),
        ("/v1/messages", "claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("/v1/chat/completions", "claude-opus-4-1", "claude-opus-4-1"),
    ],
)
async def test_documented_hook(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flow_factory: FlowFactory,
    path: str,
    model: str,
    expected: str,
) -> None:
    text = DOC.read_text()
    source = re.search(r"## A hook in ten lines.*?```python\n(.*?)```", text, re.S)
    config = re.search(r"List it in `ccproxy.yaml`.*?```yaml\n(.*?)```", text, re.S)
    assert source and config
    assert len(source.group(1).strip().splitlines()) <= 11
    (tmp_path / "my_hooks.py").write_text(source.group(1))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_hooks", raising=False)
    hooks = yaml.safe_load(config.group(1))["ccproxy"]["hooks"]
    hooks["inbound"] = [h for h in hooks["inbound"] if h != "ccproxy.hooks.inject_auth"]  # providers' hook
    pipes = build_pipelines(hooks)
    flow = flow_factory({"model": model, "messages": []}, path=path)
    await pipes["inbound"].run(flow)
    await pipes["outbound"].run(flow)
    assert json.loads(flow.request.content or b"")["model"] == expected
    sys.modules.pop("my_hooks", None)
