"""A user hook module from a temp dir, loaded by the real daemon (a subprocess) in front of the fake."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import anthropic

from tests.support.daemon import DaemonProcess, provider_entry
from tests.support.fake_provider import FakeProvider

USER_HOOKS = """
from ccproxy.pipeline import Context, hook


@hook(reads=["request.model"], writes=["request.model"])
def pin_model(ctx: Context, *, to: str) -> None:
    ctx.model = to


@hook(reads=["session_id"], writes=["request.headers.x-seen-session"])
def echo_session(ctx: Context) -> None:
    ctx.set("request.headers.x-seen-session", ctx.get("session_id") or "none")


@hook(writes=["request.headers.x-trace"])
async def trace(ctx: Context) -> None:
    ctx.set("request.headers.x-trace", "on")
"""


def test_user_hook_through_daemon(
    tmp_path: Path, fake: FakeProvider, start_daemon: Callable[..., DaemonProcess]
) -> None:
    hooks_dir = tmp_path / "userhooks"
    hooks_dir.mkdir()
    (hooks_dir / "team_hooks.py").write_text(textwrap.dedent(USER_HOOKS))
    daemon = start_daemon(
        {
            "ccproxy": {
                "providers": {"anthropic": provider_entry(fake.hostport, "anthropic")},
                "hooks": {
                    "inbound": [
                        "ccproxy.hooks.extract_session_id",
                        {"hook": "team_hooks.pin_model", "params": {"to": "claude-haiku-4-5"}},
                    ],
                    "outbound": [
                        "team_hooks.echo_session",
                        {"hook": "team_hooks.trace", "enabled": False},
                        "ccproxy.hooks.verbose_mode",
                    ],
                },
            }
        },
        env={"PYTHONPATH": str(hooks_dir)},
    )
    client = anthropic.Anthropic(base_url=daemon.url, api_key="sk-ant-client-key", max_retries=0)
    for override in ("", "+trace"):
        client.messages.create(
            model="claude-opus-4-1",
            max_tokens=8,
            messages=[{"role": "user", "content": "hi"}],
            metadata={"user_id": json.dumps({"device_id": "d", "session_id": "sess-42"})},
            extra_headers={
                "anthropic-beta": "redact-thinking-2025-02-19,x-2025",
                "x-ccproxy-hooks": override,
            },
        )
    plain, traced = fake.received[-2:]
    for rec in (plain, traced):
        assert rec.json["model"] == "claude-haiku-4-5"
        assert rec.json["messages"] == [{"role": "user", "content": "hi"}]
        assert rec.headers["x-seen-session"] == "sess-42"
        assert rec.headers["anthropic-beta"] == "x-2025"
        assert "x-ccproxy-hooks" not in rec.headers
    assert "x-trace" not in plain.headers
    assert traced.headers["x-trace"] == "on"
    flows = daemon.flows()
    assert [f["ccproxy"]["session_id"] for f in flows[-2:]] == ["sess-42", "sess-42"]


def test_bad_hook_config_stops_the_daemon_with_one_line(tmp_path: Path, fake: FakeProvider) -> None:
    hooks_dir = tmp_path / "userhooks"
    hooks_dir.mkdir()
    (hooks_dir / "team_hooks.py").write_text(textwrap.dedent(USER_HOOKS))
    d = DaemonProcess(
        tmp_path / "cfg",
        {"ccproxy": {"hooks": {"inbound": [{"hook": "team_hooks.pin_model", "params": {"to": 3}}]}}},
        env={"PYTHONPATH": str(hooks_dir)},
    )
    out = d.cli("start", timeout=60)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        "ccproxy: error: hooks.inbound[0].params: hook 'pin_model' (team_hooks.pin_model): "
        "param 'to': Input should be a valid string"
    ]


def test_hooks_dir_in_config_dir_is_importable(
    tmp_path: Path, fake: FakeProvider, start_daemon: Callable[..., DaemonProcess]
) -> None:
    """A module in <config dir>/hooks/ loads without PYTHONPATH, in the daemon and in `status`."""
    cfg_dir = tmp_path / "cfg"
    (cfg_dir / "hooks").mkdir(parents=True)
    (cfg_dir / "hooks" / "local_hooks.py").write_text(textwrap.dedent(USER_HOOKS))
    daemon = start_daemon(
        {
            "ccproxy": {
                "providers": {"anthropic": provider_entry(fake.hostport, "anthropic")},
                "hooks": {"inbound": [{"hook": "local_hooks.pin_model", "params": {"to": "pinned"}}], "outbound": []},
            }
        },
        name="cfg",
    )
    anthropic.Anthropic(base_url=daemon.url, api_key="k", max_retries=0).messages.create(
        model="m", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
    )
    assert fake.last().json["model"] == "pinned"
    status = daemon.cli("status", "--json")
    assert json.loads(status.stdout)["pipeline"]["inbound"]["hooks"][0]["name"] == "pin_model"
