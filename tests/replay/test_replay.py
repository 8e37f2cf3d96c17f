"""`ccproxy replay`: a session recorded through the real daemon by the official SDKs (every
wire, buffered and streamed, one translated flow) is served back, from a mitmproxy file, a HAR
file and the store, and each SDK gets the same answers; a miss is a 404 in the path's wire
format naming the nearest recording and the body difference."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from ccproxy.lightllm.ir import WIRES
from tests.support.canned import (
    anthropic_events,
    anthropic_message,
    gemini_events,
    gemini_response,
    openai_chat,
    openai_chat_events,
)
from tests.support.daemon import DaemonProcess, provider_entry
from tests.support.fake_provider import FakeProvider, Reply

pytestmark = pytest.mark.timeout(180)

CONVERT_MODEL = "claude-via-openai"
PROMPT = [{"role": "user", "content": "hello there"}]


def upstream_answers() -> list[Reply]:
    """What the fake provider answers, in the order `session` asks."""
    return [
        Reply(json=anthropic_message(text="buffered anthropic answer")),
        Reply(events=anthropic_events(text="streamed anthropic answer")),
        Reply(json=openai_chat(text="buffered openai answer")),
        Reply(events=openai_chat_events(text="streamed openai answer")),
        Reply(json=gemini_response(text="buffered gemini answer")),
        Reply(events=gemini_events(text="streamed gemini answer")),
        Reply(json=openai_chat(text="translated answer")),  # anthropic client, openai upstream
    ]


def session(url: str) -> list[Any]:
    """The same calls every time; what each SDK made of the answers."""
    out: list[Any] = []
    a = anthropic.Anthropic(api_key="sk-ant-replay", base_url=url, max_retries=0)
    m = a.messages.create(model="claude-test", max_tokens=16, messages=PROMPT)
    out.append(m.model_dump(exclude={"id"}))
    with a.messages.stream(model="claude-test", max_tokens=16, messages=PROMPT) as s:
        out.append(s.get_final_message().model_dump())
    o = openai.OpenAI(api_key="sk-replay", base_url=url + "/v1", max_retries=0)
    out.append(o.chat.completions.create(model="gpt-test", messages=PROMPT).model_dump())  # type: ignore[arg-type]
    chunks = o.chat.completions.create(model="gpt-test", messages=PROMPT, stream=True)  # type: ignore[arg-type]
    out.append("".join(c.choices[0].delta.content or "" for c in chunks if c.choices))
    g = genai.Client(api_key="gemini-replay-key", http_options=gtypes.HttpOptions(base_url=url))
    out.append(g.models.generate_content(model="gemini-test", contents="hello there").text)
    out.append("".join(c.text or "" for c in g.models.generate_content_stream(model="gemini-test", contents="hi")))
    t = a.messages.create(model=CONVERT_MODEL, max_tokens=16, messages=PROMPT)
    out.append(t.model_dump(exclude={"id"}))
    return out


@pytest.fixture(scope="module")
def recorded(
    shared_fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DaemonProcess, list[Any], Path]]:
    rule = {"match_model": CONVERT_MODEL, "action": "transform", "dest_provider": "openai", "dest_model": "gpt-test"}
    config: dict[str, Any] = {
        "ccproxy": {
            "providers": {w: provider_entry(shared_fake.hostport, w) for w in WIRES},
            "lightllm": {"transforms": [rule]},
        }
    }
    d = DaemonProcess(tmp_path_factory.mktemp("record"), config).start()
    files = tmp_path_factory.mktemp("files")
    try:
        shared_fake.queue(*upstream_answers())
        answers = session(d.url)
        assert d.cli("flows", "export", "-o", str(files / "session.mitm")).returncode == 0
        har = d.cli("flows", "dump")
        assert har.returncode == 0, har.stderr
        (files / "session.har").write_text(har.stdout)
    finally:
        d.stop()
    yield d, answers, files


class Replay:
    def __init__(self, d: DaemonProcess, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ccproxy", "replay", "--port", "0", *args],
            env=d.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"replay did not start: {self.proc.stderr.read() if self.proc.stderr else ''}")
        self.url = line.rsplit(" ", 1)[1].strip()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.mark.parametrize(
    "source",
    [("--from", "session.mitm", "--fast"), ("--from", "session.har", "--fast"), ("--jq", ".", "--strict")],
    ids=["mitm", "har", "store-strict-timed"],
)
def test_each_sdk_gets_the_recorded_answers(
    recorded: tuple[DaemonProcess, list[Any], Path], source: tuple[str, ...]
) -> None:
    d, answers, files = recorded
    args = [str(files / a) if a.startswith("session.") else a for a in source]
    r = Replay(d, *args)
    try:
        assert session(r.url) == answers
    finally:
        r.stop()


def test_a_miss_is_a_404_in_the_wire_format_naming_the_nearest(recorded: tuple[DaemonProcess, list[Any], Path]) -> None:
    d, _, files = recorded
    r = Replay(d, "--from", str(files / "session.mitm"), "--strict", "--fast")
    try:
        a = anthropic.Anthropic(api_key="sk-ant-replay", base_url=r.url, max_retries=0)
        with pytest.raises(anthropic.NotFoundError) as e:
            a.messages.create(model="claude-test", max_tokens=99, messages=PROMPT)
        text = str(e.value)
        assert "no recorded response for POST /v1/messages" in text
        assert "nearest recorded: POST /v1/messages" in text
        assert "-max_tokens: 16" in text and "+max_tokens: 99" in text
        o = openai.OpenAI(api_key="sk-replay", base_url=r.url + "/v1", max_retries=0)
        with pytest.raises(openai.NotFoundError) as oe:
            o.embeddings.create(model="x", input="y")
        body = oe.value.body
        assert isinstance(body, dict) and "no recorded response for POST /v1/embeddings" in json.dumps(body)
    finally:
        r.stop()


def test_order_within_the_path_unless_strict(recorded: tuple[DaemonProcess, list[Any], Path]) -> None:
    d, answers, files = recorded
    r = Replay(d, "--from", str(files / "session.mitm"), "--fast")
    try:
        a = anthropic.Anthropic(api_key="sk-ant-replay", base_url=r.url, max_retries=0)
        other = [{"role": "user", "content": "a prompt never recorded"}]
        m = a.messages.create(model="claude-test", max_tokens=16, messages=other)
        assert m.model_dump(exclude={"id"}) == answers[0]  # the first recording of /v1/messages
    finally:
        r.stop()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "replay needs --from FILE.mitm|FILE.har or --jq FILTER"),
        (("--from", "nonexistent.mitm"), "no such file"),
        (("--jq", ".[] |"), "jq filter"),
    ],
)
def test_bad_input_is_one_line(
    recorded: tuple[DaemonProcess, list[Any], Path], args: tuple[str, ...], message: str
) -> None:
    d, _, _ = recorded
    r = d.cli("replay", *args)
    assert r.returncode != 0 and message in r.stderr and "Traceback" not in r.stderr


PAUSE = 0.6


def test_streams_keep_their_recorded_pace(shared_fake: FakeProvider, tmp_path: Path) -> None:
    """A pause inside the recorded stream is replayed (a lower bound: sleeps never end early)."""
    config = {"ccproxy": {"providers": {w: provider_entry(shared_fake.hostport, w) for w in WIRES}}}
    d = DaemonProcess(tmp_path / "cfg", config).start()
    try:
        shared_fake.queue(Reply(events=anthropic_events(text="slow answer"), pause_after=2, pause=PAUSE))
        a = anthropic.Anthropic(api_key="sk-ant-replay", base_url=d.url, max_retries=0)
        with a.messages.stream(model="claude-test", max_tokens=16, messages=PROMPT) as s:
            recorded = s.get_final_message().model_dump()
        assert d.cli("flows", "export", "-o", str(tmp_path / "slow.mitm")).returncode == 0
    finally:
        d.stop()
    r = Replay(d, "--from", str(tmp_path / "slow.mitm"))
    try:
        a = anthropic.Anthropic(api_key="sk-ant-replay", base_url=r.url, max_retries=0)
        started = time.monotonic()
        with a.messages.stream(model="claude-test", max_tokens=16, messages=PROMPT) as s:
            replayed = s.get_final_message().model_dump()
        assert time.monotonic() - started >= PAUSE * 0.9
        assert replayed == recorded
    finally:
        r.stop()
