"""A real Claude Code CLI, in a loopback-only network namespace, registers ccproxy's MCP server
with the command `ccproxy mcp config` prints and gets ccproxy's tools from it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.clients.test_real_clients import PINS, PREFIX
from tests.clients.trial import binary
from tests.mcp.test_mcp_daemon import TOOLS

HERE = Path(__file__).resolve().parent


def _namespace_prefix() -> list[str]:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare (util-linux) is not installed")
    prefix = [unshare, "--net"] if os.geteuid() == 0 else [unshare, "--user", "--map-root-user", "--net"]
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a network namespace with {' '.join(prefix)}: {probe.stderr.strip()}")
    if shutil.which("ip") is None:
        pytest.skip("ip (iproute2) is not installed")
    return prefix


def test_claude_code_lists_ccproxy_tools(tmp_path: Path) -> None:
    pinned = binary(PREFIX, "claude")  # what tests/clients/install.sh installs (CI runs it)
    claude = os.environ.get("CLAUDE_BIN") or (str(pinned) if pinned.exists() else shutil.which("claude"))
    if claude is None:
        package, version = PINS["claude"]
        msg = f"Claude Code CLI not found: run tests/clients/install.sh ({package} {version}) or set CLAUDE_BIN"
        if os.environ.get("CI") == "true":
            pytest.fail(msg + " (.ci/run installs it; CI must not skip it)")
        pytest.skip(msg)
    prefix = _namespace_prefix()
    env = {**os.environ, "CLAUDE_BIN": claude}
    env.pop("CCPROXY_CONFIG_DIR", None)
    subprocess.run([*prefix, str(HERE / "claude_mcp_trial.sh"), str(tmp_path)], env=env, check=True, timeout=600)
    listed = (tmp_path / "list.out").read_text()
    assert "ccproxy" in listed and "http://127.0.0.1:4030/mcp" in listed, listed
    assert "Connected" in listed, listed
    flows = json.loads((tmp_path / "flows.json").read_text())
    prompts = [f for f in flows if f["request"]["path"].startswith("/v1/messages")]
    assert prompts, (tmp_path / "prompt.err").read_text()
    offered: set[str] = set()
    for f in prompts:
        body = json.loads(f["client_request"]["body"] or "{}")
        offered |= {t.get("name") for t in body.get("tools") or []}
        # Claude Code 2.1 defers MCP tools behind tool search: the request names them in a
        # text block ("available deferred tools") and sends their schemas only when searched
        if any(t.get("defer_loading") for t in body.get("tools") or []):
            offered |= set(re.findall(r"mcp__ccproxy__\w+", json.dumps(body.get("messages") or [])))
            offered |= set(re.findall(r"mcp__ccproxy__\w+", json.dumps(body.get("system") or [])))
    assert {f"mcp__ccproxy__{t}" for t in TOOLS} <= offered, sorted(n for n in offered if n)
