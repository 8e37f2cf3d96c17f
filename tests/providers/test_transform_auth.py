"""Credentials when a transform rule picks the provider: the destination's credential is
injected, a sentinel-injected credential for another provider never follows the flow, and
a 401 on a converted flow is replayed before the answer is converted back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.providers.conftest import claude_creds, write_creds
from tests.support.daemon import DaemonProcess, provider_entry
from tests.support.fake_oauth import FakeOAuth
from tests.support.fake_provider import FakeProvider, Reply

SENT = "sk-ant-oat-ccproxy-"
RULE = {"match_path": "^/v1/chat/completions", "match_model": "^to-claude", "action": "transform",
        "dest_provider": "claude", "dest_model": "claude-test"}  # fmt: skip


def config(fake: FakeProvider, claude_auth: dict[str, Any]) -> dict[str, Any]:
    return {
        "ccproxy": {
            "providers": {
                "openai": provider_entry(
                    fake.hostport, "openai", auth={"type": "command", "command": "printf REAL-openai-key"}
                ),
                "claude": provider_entry(fake.hostport, "anthropic", auth=claude_auth),
            },
            "lightllm": {"transforms": [RULE]},
        }
    }


@pytest.mark.parametrize("client_key", [SENT + "openai", "sk-client-own-key"])
def test_rule_destination_gets_its_own_credential(
    fake: FakeProvider, start_daemon: Callable[..., DaemonProcess], client_key: str
) -> None:
    d = start_daemon(config(fake, {"type": "command", "command": "printf REAL-claude-key"}))
    client = openai.OpenAI(base_url=d.url + "/v1", api_key=client_key, max_retries=0)
    chat = client.chat.completions.create(model="to-claude-x", messages=[{"role": "user", "content": "hi"}])
    assert chat.choices[0].message.content
    rec = fake.last()
    assert rec.path == "/v1/messages"
    assert rec.headers["x-api-key"] == "REAL-claude-key"
    sent = str(rec.headers)
    assert "REAL-openai-key" not in sent and client_key not in sent
    assert rec.json["model"] == "claude-test"


def test_401_on_converted_flow_is_replayed_then_converted(
    fake: FakeProvider, oauth: FakeOAuth, start_daemon: Callable[..., DaemonProcess], tmp_path: Path
) -> None:
    creds = write_creds(tmp_path / "c.json", claude_creds("stale", expires_in=3600))
    d = start_daemon(config(fake, {"type": "anthropic_oauth", "file_path": str(creds), "token_url": oauth.url}))
    fake.queue(Reply(status=401, json={"type": "error", "error": {"type": "authentication_error", "message": "x"}}))
    client = openai.OpenAI(base_url=d.url + "/v1", api_key=SENT + "openai", max_retries=0)
    chat = client.chat.completions.create(model="to-claude-x", messages=[{"role": "user", "content": "hi"}])
    assert chat.choices[0].message.content  # an OpenAI answer, converted from the replay's Messages answer
    first, second = fake.received
    assert first.headers["authorization"] == "Bearer stale"
    assert second.headers["authorization"] == "Bearer access-1"
    assert second.path == "/v1/messages" and second.json == first.json
    assert len(oauth.requests) == 1


def test_401_on_converted_stream_is_replayed_and_the_stream_converted(
    fake: FakeProvider, oauth: FakeOAuth, start_daemon: Callable[..., DaemonProcess], tmp_path: Path
) -> None:
    creds = write_creds(tmp_path / "c.json", claude_creds("stale", expires_in=3600))
    d = start_daemon(config(fake, {"type": "anthropic_oauth", "file_path": str(creds), "token_url": oauth.url}))
    fake.queue(Reply(status=401, json={"type": "error", "error": {"type": "authentication_error", "message": "x"}}))
    client = openai.OpenAI(base_url=d.url + "/v1", api_key=SENT + "openai", max_retries=0)
    stream = client.chat.completions.create(
        model="to-claude-x", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text
    assert [bearer for bearer in (r.headers["authorization"] for r in fake.received)] == [
        "Bearer stale",
        "Bearer access-1",
    ]
