"""`ccproxy run`: the official SDKs reach the fake provider through the real daemon
from the environment `run` sets; exit codes and signals pass through."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ccproxy.cli.run import run_env
from tests.support.daemon import DaemonProcess, free_port, provider_entry
from tests.support.fake_provider import FakeProvider

KEYS = {"anthropic": "real-a-key-111111", "openai": "real-o-key-222222", "gemini": "real-g-key-333333"}


def cmd_auth(value: str) -> dict[str, Any]:
    return {"type": "command", "command": f"printf %s {value}"}


@pytest.fixture(scope="module")
def mfake(shared_fake: FakeProvider) -> FakeProvider:
    return shared_fake


@pytest.fixture(scope="module")
def rd(mfake: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    providers = {name: provider_entry(mfake.hostport, name, auth=cmd_auth(key)) for name, key in KEYS.items()}
    # A user's own keys must not leak into the child's view of the test.
    env = {k: "" for k in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")}
    d = DaemonProcess(tmp_path_factory.mktemp("run"), {"ccproxy": {"providers": providers}}, env=env)
    for k in env:
        d.env.pop(k)
    d.start(timeout=90)
    yield d
    d.stop()


def test_run_env() -> None:
    env = run_env({"PATH": "/bin", "NO_PROXY": "corp.example"}, "http://127.0.0.1:4000", "anthropic")
    assert env["ANTHROPIC_BASE_URL"] == env["GOOGLE_GEMINI_BASE_URL"] == "http://127.0.0.1:4000"
    assert env["OPENAI_BASE_URL"] == env["OPENAI_API_BASE"] == "http://127.0.0.1:4000/v1"
    assert env["ANTHROPIC_API_KEY"] == env["OPENAI_API_KEY"] == env["GEMINI_API_KEY"] == "sk-ant-oat-ccproxy-anthropic"
    assert env["NO_PROXY"] == "corp.example,127.0.0.1,localhost,::1"
    assert env["PATH"] == "/bin"
    assert "ANTHROPIC_API_KEY" not in run_env({}, "http://127.0.0.1:4000", None)


SDK_SCRIPTS = {
    "anthropic": """
        import anthropic, sys
        c = anthropic.Anthropic(max_retries=0)
        m = c.messages.create(model="claude-test", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
        print(m.content[0].text)
        sys.exit(7)
    """,
    "openai": """
        import openai, sys
        c = openai.OpenAI(max_retries=0)
        r = c.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
        print(r.choices[0].message.content)
        sys.exit(7)
    """,
    "gemini": """
        import sys
        from google import genai
        c = genai.Client()  # reads GEMINI_API_KEY and GOOGLE_GEMINI_BASE_URL
        r = c.models.generate_content(model="gemini-test", contents="hi")
        print(r.text)
        sys.exit(7)
    """,
}
SLOT = {"anthropic": "x-api-key", "openai": "authorization", "gemini": "x-goog-api-key"}


@pytest.mark.parametrize("provider", ["anthropic", "openai", "gemini"])
def test_run_sdk_reaches_fake_with_real_key(rd: DaemonProcess, mfake: FakeProvider, provider: str) -> None:
    before = len(mfake.received)
    script = textwrap.dedent(SDK_SCRIPTS[provider])
    p = rd.cli("run", "--provider", provider, "--", sys.executable, "-c", script, timeout=120)
    assert p.returncode == 7, p.stderr
    assert p.stdout.strip()
    (rec,) = mfake.received[before:]
    assert rec.headers[SLOT[provider]].removeprefix("Bearer ") == KEYS[provider]
    assert "sk-ant-oat-ccproxy-" not in str(rec.headers) + rec.path


def test_run_without_provider_passes_client_key(rd: DaemonProcess, mfake: FakeProvider) -> None:
    script = "import os, httpx, sys; r = httpx.post(os.environ['OPENAI_BASE_URL'] + '/chat/completions', "
    script += (
        "json={'model': 'm', 'messages': []}, headers={'authorization': 'Bearer own'}); sys.exit(r.status_code % 256)"
    )
    p = rd.cli("run", "--", sys.executable, "-c", script, timeout=120)
    assert p.returncode == 200 % 256, p.stderr
    assert mfake.last().headers["authorization"] == "Bearer own"


@pytest.mark.parametrize(
    ("argv", "code", "stderr"),
    [
        (["--", sys.executable, "-c", "import os; os.kill(os.getpid(), 9)"], 137, ""),
        (["--", "no-such-command-xyz"], 127, "ccproxy: error: command not found: no-such-command-xyz"),
        (["--provider", "nope", "--", "true"], 1, "ccproxy: error: --provider nope: no such provider in the config"),
    ],
)
def test_run_exit_codes(rd: DaemonProcess, argv: list[str], code: int, stderr: str) -> None:
    p = rd.cli("run", *argv, timeout=120)
    assert p.returncode == code
    assert p.stderr.startswith(stderr)


def test_run_daemon_not_running(tmp_path: Any) -> None:
    port = free_port()
    (tmp_path / "ccproxy.yaml").write_text(f"ccproxy:\n  port: {port}\n")
    env = {**os.environ, "CCPROXY_CONFIG_DIR": str(tmp_path)}
    p = subprocess.run(
        [sys.executable, "-m", "ccproxy", "run", "--", "true"], env=env, capture_output=True, text=True, timeout=120
    )
    assert p.returncode == 1
    assert p.stderr.strip() == (
        f"ccproxy: error: ccproxy is not running at http://127.0.0.1:{port} (start it with `ccproxy start`)"
    )


def test_run_forwards_signals(rd: DaemonProcess, tmp_path: Any) -> None:
    ready = tmp_path / "ready"
    script = textwrap.dedent(
        f"""
        import signal, sys, time, pathlib
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(42))
        signal.signal(signal.SIGUSR1, lambda *a: print("usr1", flush=True))
        pathlib.Path({str(ready)!r}).write_text("x")
        time.sleep(60)
        """
    )
    p = subprocess.Popen(
        [sys.executable, "-m", "ccproxy", "run", "--", sys.executable, "-c", script],
        env=rd.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 90
    while not ready.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert ready.exists()
    p.send_signal(signal.SIGUSR1)
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 42, err
    assert out.strip() == "usr1"
