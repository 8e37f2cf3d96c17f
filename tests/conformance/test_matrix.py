"""The conformance matrix: every direction (12 cross, 4 identity), plain and streaming, times every
feature column, through the real daemon and a `transform` rule, the client side driven by the
official SDK and judged by its typed model or its own stream accumulator.

Each cell records what it saw: ✅ carried, ⚠ carried with a loss (the note says exactly which),
❌ not carried or rejected (the note says how), — not expressible by the format (the note says
why). A cell whose probe crashes fails its test and shows ❌. The last test renders the cells as
docs/conformance.md and fails when the committed file differs: regenerate it with
`python -m tests.conformance`, never by hand.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ccproxy.lightllm.ir import WIRES
from ccproxy.lightllm.stream.events import Stop, TextDelta, UsageUpdate
from tests.conformance import render, sdk
from tests.conformance import requests as rq
from tests.conformance import upstream as up
from tests.conformance.render import Cell
from tests.conformance.sdk import Seen
from tests.conftest import REPO
from tests.lightllm.lightllm_builders import OUT_SCHEMA, PNG, Answer, Call, Convo, echo, request
from tests.support.daemon import DaemonProcess, provider_entry
from tests.support.fake_provider import FakeProvider, Recorded, Reply

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"), pytest.mark.timeout(300)]

DOC = REPO / "docs" / "conformance.md"
CELLS = pytest.StashKey[dict[tuple[str, str, bool, str], Cell]]()
SIG = "c2lnbmF0dXJlLWFiYw=="
CALL = rq.CALL
CALL2 = Call("call_2", "get_weather", {"city": "Rome"})


@dataclass
class Env:
    url: str
    fake: FakeProvider

    def exchange(self, src: str, dst: str, stream: bool, body: dict[str, Any], *replies: Reply) -> tuple[Seen, Any]:
        """The SDK of `src` sends `body` (routed to `dst`); returns what the SDK surfaced and the
        JSON body the upstream received."""
        before = len(self.fake.received)
        self.fake.queue(*replies)
        try:
            seen = sdk.call(src, self.url, body, stream, model=f"to-{dst}")
        finally:
            while not self.fake.replies.empty():
                self.fake.replies.get_nowait()
        got: list[Recorded] = self.fake.received[before:]
        return seen, (got[-1].json if got else None)


@pytest.fixture(scope="module")
def env(shared_fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    rules = [{"match_model": f"^to-{w}$", "action": "transform", "dest_provider": w, "dest_model": f"{w}-model"}
             for w in WIRES]  # fmt: skip
    config = {
        "ccproxy": {
            "providers": {w: provider_entry(shared_fake.hostport, w) for w in WIRES},
            "lightllm": {"transforms": rules},
        }
    }
    d = DaemonProcess(tmp_path_factory.mktemp("conformance"), config).start(timeout=120)
    yield Env(d.url, shared_fake)
    d.stop()


# --- the feature probes: (env, src, dst, stream) -> Cell -----------------------------------------


def text(e: Env, src: str, dst: str, stream: bool) -> Cell:
    seen, _ = e.exchange(src, dst, stream, rq.plain(src), up.answer(dst, Answer(text="Hello there."), stream))
    return Cell.ok() if seen.text == "Hello there." else Cell.fail(f"the client saw {seen.text!r}")


def system(e: Env, src: str, dst: str, stream: bool) -> Cell:
    _, got = e.exchange(src, dst, stream, rq.plain(src, system="Be brief."), up.answer(dst, Answer(), stream))
    return Cell.ok() if "Be brief." in up.system_text(dst, got) else Cell.fail("system prompt not sent")


def multi_turn(e: Env, src: str, dst: str, stream: bool) -> Cell:
    _, got = e.exchange(src, dst, stream, rq.multi_turn(src), up.answer(dst, Answer(), stream))
    want = [("user", "Say hello."), ("assistant", "It is sunny."), ("user", "And tomorrow?")]
    return Cell.ok() if up.turns(dst, got) == want else Cell.fail(f"turns sent as {up.turns(dst, got)}")


def images(e: Env, src: str, dst: str, stream: bool) -> Cell:
    _, got = e.exchange(src, dst, stream, rq.plain(src, image=True), up.answer(dst, Answer(), stream))
    return Cell.ok() if PNG in json.dumps(got) else Cell.fail("image dropped")


def documents(e: Env, src: str, dst: str, stream: bool) -> Cell:
    _, got = e.exchange(src, dst, stream, rq.with_document(src), up.answer(dst, Answer(), stream))
    return Cell.ok() if rq.PDF in json.dumps(got) else Cell.fail("PDF dropped")


def _calls(e: Env, src: str, dst: str, stream: bool, calls: list[Call], reply: Reply | None = None) -> Cell:
    body = request(src, Convo(system=None, temperature=None))
    a = Answer(text=None, calls=calls, stop="tool_use")
    seen, got = e.exchange(src, dst, stream, body, reply or up.answer(dst, a, stream))
    want = [(k.name, k.args) for k in calls]
    if "get_weather" not in json.dumps(got):
        return Cell.fail("tool declaration not sent")
    if seen.calls != want:
        return Cell.fail(f"the client saw calls {seen.calls}")
    if seen.stop not in ("tool_use", "tool_calls", "STOP"):
        return Cell.warn(f"calls arrive with stop reason {seen.stop!r}")
    return Cell.ok()


def tool(e: Env, src: str, dst: str, stream: bool) -> Cell:
    return _calls(e, src, dst, stream, [CALL])


def parallel(e: Env, src: str, dst: str, stream: bool) -> Cell:
    return _calls(e, src, dst, stream, [CALL, CALL2])


def interleaved(e: Env, src: str, dst: str, stream: bool) -> Cell:
    if not stream:
        return Cell.na("a plain answer has no deltas to interleave")
    if dst != "openai":
        return Cell.na("only OpenAI Chat streams interleave the argument deltas of parallel calls")
    return _calls(e, src, dst, stream, [CALL, CALL2], up.interleaved_chat())


def tool_result_image(e: Env, src: str, dst: str, stream: bool) -> Cell:
    _, got = e.exchange(src, dst, stream, rq.tool_result_with_image(src), up.answer(dst, Answer(), stream))
    sent = json.dumps(got)
    if PNG in sent:
        return Cell.ok()
    return (
        Cell.warn("the image in the tool result is dropped, its text kept")
        if "18C" in sent
        else Cell.fail("tool result dropped")
    )


def tool_choice(e: Env, src: str, dst: str, stream: bool) -> Cell:
    _, got = e.exchange(src, dst, stream, rq.forced_tool(src), up.answer(dst, Answer(calls=[CALL]), stream))
    return Cell.ok() if up.forced_tool(dst, got) == "get_weather" else Cell.fail("the forced tool is not forced")


THOUGHT = Answer(text="4.", thinking="Let me think.", signature=SIG)


def thinking(e: Env, src: str, dst: str, stream: bool) -> Cell:
    body = request(src, Convo(system=None, tools=False, reasoning=True, temperature=None))
    seen, got = e.exchange(src, dst, stream, body, up.answer(dst, THOUGHT, stream))
    lost = []
    if not up.reasoning_asked(dst, got):
        lost.append("no reasoning request is sent")
    if seen.thinking != "Let me think.":
        lost.append("the thinking text does not reach the client")
    if seen.text != "4.":
        return Cell.fail(f"the client saw {seen.text!r}")
    return Cell.ok() if not lost else Cell.warn("; ".join(lost))


def thinking_turn2(e: Env, src: str, dst: str, stream: bool) -> Cell:
    turn1 = request(src, Convo(system=None, reasoning=True, temperature=None))
    a = Answer(text=None, thinking="Let me think.", signature=SIG, calls=[CALL], stop="tool_use")
    seen, _ = e.exchange(src, dst, stream, turn1, up.answer(dst, a, stream))
    if seen.calls != [(CALL.name, CALL.args)]:
        return Cell.fail(f"turn 1: the client saw calls {seen.calls}")
    turn2 = echo(src, turn1, seen.raw, ["18C"])
    _, got = e.exchange(src, dst, stream, turn2, up.answer(dst, Answer(text="18C."), stream))
    sent = json.dumps(got)
    if SIG in sent:
        return Cell.ok()
    return Cell.warn("the reasoning signature does not come back on turn 2 (the tool loop still works)")


def structured(e: Env, src: str, dst: str, stream: bool) -> Cell:
    _, got = e.exchange(src, dst, stream, rq.plain(src, json_schema=True), up.answer(dst, Answer(), stream))
    s = up.schema(dst, got)
    if s is None:
        return Cell.fail("the JSON schema is not sent")
    return Cell.ok() if s == OUT_SCHEMA else Cell.warn(f"the schema is sent rewritten: {json.dumps(s, sort_keys=True)}")


def stop_seq(e: Env, src: str, dst: str, stream: bool) -> Cell:
    body = rq.stop_sequences(src)
    _, got = e.exchange(src, dst, stream, body, up.answer(dst, Answer(), stream))
    if up.stop_sequences(dst, got) == ["END"]:
        return Cell.ok()
    if dst == "openai_responses":
        return Cell.fail("dropped: the Responses API has no stop sequences")
    return Cell.fail("stop sequences dropped")


def citations(e: Env, src: str, dst: str, stream: bool) -> Cell:
    if stream:
        return Cell.na("not probed yet: the test upstream cannot stream citations")
    seen, _ = e.exchange(src, dst, stream, rq.plain(src), up.cited(dst))
    if seen.citations == [up.URL]:
        return Cell.ok()
    return Cell.fail("citations dropped (the text arrives)" if seen.text else "the answer is lost")


def usage(e: Env, src: str, dst: str, stream: bool) -> Cell:
    a = Answer(text="Hi.", input_tokens=100, cached_tokens=20, output_tokens=30, reasoning_tokens=10)
    seen, _ = e.exchange(src, dst, stream, rq.plain(src), up.answer(dst, a, stream))
    want = {"input": 100, "cached": 20, "output": 30, "reasoning": 10}
    if src == "anthropic":
        del want["reasoning"]  # Messages usage has no reasoning-token count
    lost = [f"{k} tokens {seen.usage.get(k)} (want {v})" for k, v in want.items() if seen.usage.get(k) != v]
    if not seen.usage:
        return Cell.fail("no usage reaches the client")
    return Cell.ok() if not lost else Cell.warn("; ".join(lost))


STATUSES = (400, 401, 429, 529, 503)


def _status(exc: Exception) -> tuple[int | None, str | None]:
    status = getattr(exc, "status_code", None) or getattr(exc, "code", None)
    resp = getattr(exc, "response", None)
    headers = getattr(resp, "headers", None) or {}
    return status, headers.get("retry-after")


def errors(e: Env, src: str, dst: str, stream: bool) -> Cell:
    lost = []
    for status in STATUSES:
        try:
            e.exchange(src, dst, stream, rq.plain(src), up.error(dst, status))
        except sdk.API_ERRORS as exc:
            got, retry = _status(exc)
            if got != status:
                lost.append(f"{status} arrives as {got}")
            if retry != "7":
                lost.append(f"retry-after lost on {status}")
            continue
        return Cell.fail(f"an upstream {status} reaches the client as a success")
    return Cell.ok() if not lost else Cell.warn("; ".join(lost))


def count_tokens(e: Env, src: str, dst: str, stream: bool) -> Cell:
    if stream:
        return Cell.na("counting is not streamed")
    if src not in ("anthropic", "gemini"):
        return Cell.na("the client SDK's format has no count_tokens call probed here")
    e.fake.queue(Reply(json={"totalTokens": 12}) if dst == "gemini" else Reply(json={"input_tokens": 12}))
    try:
        n = sdk.count(src, e.url, rq.plain(src), model=f"to-{dst}")
    finally:
        while not e.fake.replies.empty():
            e.fake.replies.get_nowait()
    if n == 12:
        return Cell.ok()
    return Cell.warn("estimated by ccproxy, not counted by the upstream") if n else Cell.fail(f"count is {n}")


def faults(e: Env, src: str, dst: str, stream: bool) -> Cell:
    if not stream:
        return Cell.na("a plain answer has no mid-stream")
    # the upstream drops the connection after its first text delta, in the middle of the answer
    evs = [e for e in up.events(Answer(text="Hello")) if not isinstance(e, Stop | UsageUpdate)]
    evs += [TextDelta(w) for w in (" there,", " this", " is", " cut.")]
    reply = Reply(events=up.stream_chunks(dst, [*evs, Stop("end_turn")]), reset_after=2)
    try:
        seen, _ = e.exchange(src, dst, stream, rq.plain(src), reply)
    except sdk.API_ERRORS:
        return Cell.ok()
    except Exception as exc:  # the SDK surfaced a transport error, not a typed API error
        return Cell.warn(f"the client sees a bare {type(exc).__name__}, not an error event")
    return Cell.fail(f"the stream is cut silently: the client saw {seen.text!r} as a complete answer")


FEATURES: dict[str, Callable[[Env, str, str, bool], Cell]] = {
    "text": text,
    "system": system,
    "multi-turn": multi_turn,
    "images in": images,
    "PDF in": documents,
    "tool": tool,
    "parallel tools": parallel,
    "interleaved tools": interleaved,
    "tool result image": tool_result_image,
    "tool choice": tool_choice,
    "thinking": thinking,
    "thinking turn 2": thinking_turn2,
    "JSON schema": structured,
    "stop sequences": stop_seq,
    "citations": citations,
    "usage": usage,
    "errors": errors,
    "count_tokens": count_tokens,
    "mid-stream faults": faults,
}
ROWS = [(src, dst, stream) for src in WIRES for dst in WIRES for stream in (False, True)]
CASES = [
    pytest.param(src, dst, stream, f, id=f"{src}-{dst}-{'stream' if stream else 'plain'}-{f.replace(' ', '_')}")
    for src, dst, stream in ROWS
    for f in FEATURES
]


def _clean(note: str) -> str:
    """Notes go into a committed file: no ports, ids or line breaks."""
    note = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1", note.splitlines()[0] if note else "")
    return re.sub(r"\b(req|msg|chatcmpl|resp)_[A-Za-z0-9]+", r"\1_…", note)[:240]


@pytest.mark.parametrize(("src", "dst", "stream", "feature"), CASES)
def test_cell(env: Env, request: pytest.FixtureRequest, src: str, dst: str, stream: bool, feature: str) -> None:
    cells = request.config.stash.setdefault(CELLS, {})
    key = (src, dst, stream, feature)
    cells[key] = Cell.fail("the probe crashed (test failure)")
    try:
        cell = FEATURES[feature](env, src, dst, stream)
    except rq.NotExpressible as exc:
        cell = Cell.na(str(exc))
    except sdk.API_ERRORS as exc:
        status, _ = _status(exc)
        message = getattr(exc, "message", None) or str(exc)
        if isinstance(exc, sdk.StreamFailed) or status in (None, 200):
            cell = Cell.fail(_clean(f"the stream ends with an error event: {message}"))
        else:
            cell = Cell.fail(_clean(f"rejected with {status}: {message}"))
    cells[key] = Cell(cell.mark, _clean(cell.note))


def test_conformance_doc_is_current(request: pytest.FixtureRequest) -> None:
    cells = request.config.stash.get(CELLS, {})
    if len(cells) != len(CASES):
        pytest.skip(f"only {len(cells)} of {len(CASES)} cells ran; the doc check needs the whole matrix")
    text = render.markdown(cells, list(FEATURES), ROWS)
    if os.environ.get("CCPROXY_WRITE_CONFORMANCE") == "1":
        DOC.write_text(text)
        return
    assert DOC.exists() and DOC.read_text() == text, (
        "docs/conformance.md is not current: regenerate it with `python -m tests.conformance` and commit it"
    )
