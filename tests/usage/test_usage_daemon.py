"""`ccproxy usage` over flows recorded by the real daemon from official-SDK traffic (every wire,
buffered and streamed, cache tokens included), read with the daemon stopped: token totals equal
what the fake upstream reported (as each SDK parsed it), costs equal genai-prices' own
calculation, an unknown model is "price unknown", and usage.prices overrides."""

from __future__ import annotations

import csv
import datetime
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import anthropic
import openai
import pytest
from genai_prices import Usage, calc_price
from google import genai
from google.genai import types as gtypes

from ccproxy.lightllm.ir import WIRES
from tests.support.canned import (
    anthropic_events,
    anthropic_message,
    gemini_response,
    openai_chat,
    openai_chat_events,
    sse,
)
from tests.support.daemon import DaemonProcess, provider_entry
from tests.support.fake_provider import FakeProvider, Reply

pytestmark = pytest.mark.timeout(180)

PRIVATE_MODEL = "acme-private-1"
PRIVATE_PRICE = {"input": 2.0, "output": 8.0, "cache_read": 0.5}
# (model, provider id) -> [input incl. cached, output, cache read, cache write] per request
Expected = dict[tuple[str, str], list[list[int]]]


def _anthropic_traffic(d: DaemonProcess, fake: FakeProvider, seen: Expected) -> None:
    c = anthropic.Anthropic(api_key="sk-ant-usage", base_url=d.url, max_retries=0)
    body = anthropic_message(model="claude-sonnet-4-5")
    body["usage"].update(
        input_tokens=100, output_tokens=20, cache_read_input_tokens=300, cache_creation_input_tokens=50
    )
    fake.queue(Reply(json=body))
    m = c.messages.create(model="claude-sonnet-4-5", max_tokens=8, messages=[{"role": "user", "content": "a"}])
    u = m.usage
    cr, cw = u.cache_read_input_tokens or 0, u.cache_creation_input_tokens or 0
    seen.setdefault(("claude-sonnet-4-5", "anthropic"), []).append([u.input_tokens + cr + cw, u.output_tokens, cr, cw])
    events = anthropic_events(model="claude-sonnet-4-5")
    start = json.loads(events[0].split(b"data: ", 1)[1])
    start["message"]["usage"].update(input_tokens=10, cache_read_input_tokens=40, cache_creation_input_tokens=0)
    events[0] = sse("message_start", start)
    fake.queue(Reply(events=events))
    with c.messages.stream(model="claude-sonnet-4-5", max_tokens=8, messages=[{"role": "user", "content": "b"}]) as s:
        final = s.get_final_message()
    u = final.usage
    cr = u.cache_read_input_tokens or 0
    seen[("claude-sonnet-4-5", "anthropic")].append([u.input_tokens + cr, u.output_tokens, cr, 0])
    fake.queue(Reply(json=anthropic_message(model="claude-test")))  # a model nobody prices
    m = c.messages.create(model="claude-test", max_tokens=8, messages=[{"role": "user", "content": "c"}])
    seen.setdefault(("claude-test", "anthropic"), []).append([m.usage.input_tokens, m.usage.output_tokens, 0, 0])
    fake.queue(Reply(json=anthropic_message(model=PRIVATE_MODEL)))
    m = c.messages.create(model=PRIVATE_MODEL, max_tokens=8, messages=[{"role": "user", "content": "d"}])
    seen.setdefault((PRIVATE_MODEL, "anthropic"), []).append([m.usage.input_tokens, m.usage.output_tokens, 0, 0])


ROUTED = {"claude-routed": "gpt-4o"}  # client model → the model a transform rule forwards


def _routed_traffic(d: DaemonProcess, fake: FakeProvider, seen: Expected) -> None:
    """An Anthropic client routed to OpenAI is billed as the OpenAI model it reached."""
    c = anthropic.Anthropic(api_key="sk-ant-usage", base_url=d.url, max_retries=0)
    fake.queue(Reply(json=openai_chat(model="gpt-4o")))
    m = c.messages.create(model="claude-routed", max_tokens=8, messages=[{"role": "user", "content": "r"}])
    assert fake.last().json["model"] == "gpt-4o"
    seen.setdefault(("claude-routed", "openai"), []).append([m.usage.input_tokens, m.usage.output_tokens, 0, 0])


def _openai_traffic(d: DaemonProcess, fake: FakeProvider, seen: Expected) -> None:
    c = openai.OpenAI(api_key="sk-usage", base_url=d.url + "/v1", max_retries=0)
    body = openai_chat(model="gpt-4o")
    body["usage"] = {
        "prompt_tokens": 1200,
        "completion_tokens": 30,
        "total_tokens": 1230,
        "prompt_tokens_details": {"cached_tokens": 1024},
    }
    fake.queue(Reply(json=body))
    r = c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "a"}])
    assert r.usage is not None and r.usage.prompt_tokens_details is not None
    cached = r.usage.prompt_tokens_details.cached_tokens or 0
    seen.setdefault(("gpt-4o", "openai"), []).append([r.usage.prompt_tokens, r.usage.completion_tokens, cached, 0])
    events = openai_chat_events(model="gpt-4o")
    last = json.loads(events[-2].split(b"data: ", 1)[1])
    usage = {"prompt_tokens": 55, "completion_tokens": 9, "total_tokens": 64}
    events = [*events[:-1], sse(None, {**last, "choices": [], "usage": usage}), events[-1]]
    fake.queue(Reply(events=events))
    stream = c.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "b"}], stream=True, stream_options={"include_usage": True}
    )
    got = [chunk.usage for chunk in stream if chunk.usage is not None]
    seen[("gpt-4o", "openai")].append([got[-1].prompt_tokens, got[-1].completion_tokens, 0, 0])


def _gemini_traffic(d: DaemonProcess, fake: FakeProvider, seen: Expected) -> None:
    c = genai.Client(api_key="gemini-usage-key", http_options=gtypes.HttpOptions(base_url=d.url))
    body = gemini_response(model="gemini-2.5-flash")
    body["usageMetadata"] = {
        "promptTokenCount": 800,
        "candidatesTokenCount": 40,
        "cachedContentTokenCount": 600,
        "totalTokenCount": 840,
    }
    fake.queue(Reply(json=body))
    r = c.models.generate_content(model="gemini-2.5-flash", contents="a")
    u = r.usage_metadata
    assert u is not None
    seen.setdefault(("gemini-2.5-flash", "google"), []).append(
        [u.prompt_token_count or 0, u.candidates_token_count or 0, u.cached_content_token_count or 0, 0]
    )


@pytest.fixture(scope="module")
def recorded(
    shared_fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DaemonProcess, Expected]]:
    config: dict[str, Any] = {
        "ccproxy": {
            "providers": {w: provider_entry(shared_fake.hostport, w) for w in WIRES},
            "usage": {"prices": {PRIVATE_MODEL: PRIVATE_PRICE}},
            "lightllm": {
                "transforms": [
                    {"match_model": f"^{m}$", "action": "transform", "dest_provider": "openai", "dest_model": to}
                    for m, to in ROUTED.items()
                ]
            },
        }
    }
    d = DaemonProcess(tmp_path_factory.mktemp("usage"), config).start()
    seen: Expected = {}
    try:
        _anthropic_traffic(d, shared_fake, seen)
        _openai_traffic(d, shared_fake, seen)
        _gemini_traffic(d, shared_fake, seen)
        _routed_traffic(d, shared_fake, seen)
    finally:
        d.stop()  # usage reads flows.db with the daemon down
    yield d, seen


def _usage(d: DaemonProcess, *args: str) -> str:
    r = d.cli("usage", *args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _expected_cost(model: str, provider: str, requests: list[list[int]]) -> Decimal:
    total = Decimal(0)
    for i, o, cr, cw in requests:
        usage = Usage(input_tokens=i, output_tokens=o, cache_read_tokens=cr, cache_write_tokens=cw)
        now = datetime.datetime.now(datetime.UTC)
        total += calc_price(usage, model, provider_id=provider, genai_request_timestamp=now).total_price
    return total


def test_token_totals_and_prices_by_model(recorded: tuple[DaemonProcess, Expected]) -> None:
    d, seen = recorded
    report = json.loads(_usage(d, "--json", "--by", "model"))
    groups = {g["model"]: g for g in report["groups"]}
    assert set(groups) == {m for m, _ in seen}
    for (model, provider), requests in seen.items():
        g = groups[model]
        sums = [sum(r[k] for r in requests) for k in range(4)]
        assert [g["input_tokens"], g["output_tokens"], g["cache_read_tokens"], g["cache_write_tokens"]] == sums
        assert g["requests"] == len(requests)
        if model == "claude-test":
            assert g["cost_usd"] is None and g["unpriced_models"] == ["claude-test"]
        elif model == PRIVATE_MODEL:
            ((i, o, _, _),) = requests
            assert Decimal(str(g["cost_usd"])) == (i * Decimal("2.0") + o * Decimal("8.0")) / 1_000_000
        else:
            billed = ROUTED.get(model, model)
            assert Decimal(str(g["cost_usd"])) == _expected_cost(billed, provider, requests)
    everything = [r for reqs in seen.values() for r in reqs]
    t = report["total"]
    assert t["input_tokens"] == sum(r[0] for r in everything)
    assert t["output_tokens"] == sum(r[1] for r in everything)
    assert t["requests"] == len(everything) and t["unpriced_requests"] == 1


def test_cache_tokens_are_priced_as_the_provider_prices_them(recorded: tuple[DaemonProcess, Expected]) -> None:
    d, seen = recorded
    groups = {g["model"]: g for g in json.loads(_usage(d, "--json"))["groups"]}
    requests = seen[("claude-sonnet-4-5", "anthropic")]
    as_plain = [[i, o, 0, 0] for i, o, _, _ in requests]
    cost = Decimal(str(groups["claude-sonnet-4-5"]["cost_usd"]))
    assert cost == _expected_cost("claude-sonnet-4-5", "anthropic", requests)
    assert cost != _expected_cost("claude-sonnet-4-5", "anthropic", as_plain)  # the cache changed the price


def test_table_csv_and_groupings(recorded: tuple[DaemonProcess, Expected]) -> None:
    d, seen = recorded
    table = _usage(d)
    assert "price unknown" in table and "claude-test" in table and "total" in table
    rows = list(csv.DictReader(io.StringIO(_usage(d, "--csv", "--by", "provider"))))
    by_provider = {r["provider"]: r for r in rows}
    everything = [r for reqs in seen.values() for r in reqs]
    assert int(by_provider["total"]["input_tokens"]) == sum(r[0] for r in everything)
    assert {"anthropic", "openai", "gemini"} <= set(by_provider)
    day = json.loads(_usage(d, "--json", "--by", "day"))
    assert [g["day"] for g in day["groups"]] == [datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")]
    assert json.loads(_usage(d, "--json", "--since", "1d"))["total"]["requests"] == len(everything)
    assert json.loads(_usage(d, "--json", "--until", "2000-01-01"))["total"]["requests"] == 0
    clients = {g["client"]: g["requests"] for g in json.loads(_usage(d, "--json", "--by", "client"))["groups"]}
    assert clients.get("Anthropic/Python") == 5 and clients.get("OpenAI/Python") == 2, clients
    assert sum(clients.values()) == len(everything)
    sessions = json.loads(_usage(d, "--json", "--by", "session"))
    assert sum(g["requests"] for g in sessions["groups"]) == len(everything)
    only = json.loads(_usage(d, "--json", "--jq", '[.[] | select(.ccproxy.provider == "gemini")]'))
    assert [g["model"] for g in only["groups"]] == ["gemini-2.5-flash"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "yesterday"), "use a duration (7d, 12h, 30m) or a date"),
        (("--jq", ".[] | "), "jq filter"),
        (("--json", "--csv"), "--json and --csv exclude each other"),
    ],
)
def test_bad_input_is_one_line(recorded: tuple[DaemonProcess, Expected], args: tuple[str, ...], message: str) -> None:
    d, _ = recorded
    r = d.cli("usage", *args)
    assert r.returncode != 0 and message in r.stderr and "Traceback" not in r.stderr
