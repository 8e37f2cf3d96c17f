"""Credential files: expiry units, sibling-preserving atomic write-back, and two
processes refreshing one shared file at once."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ccproxy.providers import credfile
from tests.providers.conftest import claude_creds, write_creds
from tests.support.fake_oauth import FakeOAuth

NOW = 1_760_000_000.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (int(NOW * 1000), NOW),  # Claude Code / gemini-cli: milliseconds
        (int(NOW), NOW),  # seconds
        (NOW, NOW),
        (str(int(NOW * 1000)), NOW),  # a number stored as a string
        ("2025-10-09T08:53:20+00:00", NOW),  # ISO-8601 (google-auth's `expiry`)
        ("2025-10-09T08:53:20Z", NOW),
        (None, None),
        ("soon", None),
        (True, None),
    ],
)
def test_expiry_seconds(value: object, expected: float | None) -> None:
    assert credfile.expiry_seconds(value) == expected


@pytest.mark.parametrize(
    ("previous", "expected"),
    [
        (int(NOW * 1000), int((NOW + 60) * 1000)),
        (int(NOW), int(NOW + 60)),
        (None, int((NOW + 60) * 1000)),
        (str(int(NOW)), str(int(NOW + 60))),
    ],
)
def test_expiry_written_in_the_files_unit(previous: object, expected: object) -> None:
    assert credfile.expiry_like(previous, NOW + 60) == expected


def test_with_updates_keeps_siblings_and_creates_parents() -> None:
    data = claude_creds()
    out = credfile.with_updates(data, {"claudeAiOauth.accessToken": "new", "a.b.c": 1})
    assert out["claudeAiOauth"]["accessToken"] == "new"
    assert out["claudeAiOauth"]["scopes"] == ["user:inference", "user:profile"]
    assert out["otherTool"] == {"keep": True}
    assert out["a"] == {"b": {"c": 1}}
    assert data["claudeAiOauth"]["accessToken"] == "old-access"  # the input is not mutated


def test_atomic_write_mode_0600_and_no_temp_left(tmp_path: Path) -> None:
    path = write_creds(tmp_path / "creds.json", {"x": 1})
    credfile.atomic_write_json(path, {"x": 2, "y": [1]})
    assert json.loads(path.read_text()) == {"x": 2, "y": [1]}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["creds.json"]


_REFRESHER = textwrap.dedent(
    """
    import asyncio, sys
    from ccproxy.config.models import AnthropicOAuth
    from ccproxy.providers.oauth import AnthropicOAuthSource

    cfg = AnthropicOAuth(type="anthropic_oauth", file_path=sys.argv[1], token_url=sys.argv[2])
    src = AnthropicOAuthSource("anthropic", cfg)
    sys.stdin.readline()  # start line: both processes go at once
    tokens = [asyncio.run(src.resolve()).token for _ in range(int(sys.argv[3]))]
    print(tokens[-1], src.refreshes)
    """
)


def test_two_processes_refresh_one_file(tmp_path: Path) -> None:
    """Both see the expired token at once; the flock makes one refresh and the other
    read its result. The file stays valid JSON with siblings intact throughout."""
    oauth = FakeOAuth(delay=0.3).start()
    try:
        path = write_creds(tmp_path / ".credentials.json", claude_creds())
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _REFRESHER, str(path), oauth.url, "3"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        time.sleep(1.0)  # both interpreters loaded
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        outs = [p.communicate(timeout=30) for p in procs]
        for p, (_out, err) in zip(procs, outs, strict=True):
            assert p.returncode == 0, err
        tokens = {o.split()[0] for o, _ in outs}
        refreshes = sorted(int(o.split()[1]) for o, _ in outs)
        assert len(oauth.requests) == 1
        assert refreshes == [0, 1]
        assert tokens == {"access-1"}
        data = json.loads(path.read_text())
        assert data["claudeAiOauth"]["accessToken"] == "access-1"
        assert data["claudeAiOauth"]["refreshToken"] == "refresh-1"
        assert data["claudeAiOauth"]["subscriptionType"] == "max"
        assert data["otherTool"] == {"keep": True}
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        oauth.stop()
