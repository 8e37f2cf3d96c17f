from __future__ import annotations

import json
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import http
from mitmproxy.test import tflow

FlowFactory = Callable[..., http.HTTPFlow]


def make_flow(
    body: Any = None,
    *,
    path: str = "/v1/messages",
    method: str = "POST",
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> http.HTTPFlow:
    """A real mitmproxy flow (tflow) carrying a JSON request body."""
    flow = tflow.tflow()
    req = flow.request
    req.method = method
    req.path = path
    req.host = "api.anthropic.com"
    req.headers.clear()
    req.headers["content-type"] = "application/json"
    for k, v in (headers or {}).items():
        req.headers[k] = v
    req.content = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    return flow


@pytest.fixture
def flow_factory() -> FlowFactory:
    return make_flow


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], str]]:
    """Write a user hook module into a temp dir on sys.path; returns its import name."""
    monkeypatch.syspath_prepend(str(tmp_path))
    created: list[str] = []

    def write(source: str) -> str:
        name = f"userhooks_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        created.append(name)
        return name

    yield write
    for name in created:
        sys.modules.pop(name, None)
