from __future__ import annotations

import base64
import json
from typing import Any

import jsonschema
import pytest
from flowkit import make_flow, to_contract
from har12_schema import HAR_SCHEMA
from haralyzer import HarParser

from ccproxy.flows.har import flows_to_har

SECRET = "sk-ant-api03-THIS-IS-SECRET"


def _validate(har: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(HAR_SCHEMA, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(har), key=lambda e: list(e.path))
    assert not errors, "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


@pytest.fixture
def transformed() -> dict[str, Any]:
    """An Anthropic request the pipeline turned into a Gemini call, response converted back."""
    gemini_url = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent?alt=sse"
    flow = make_flow(
        gemini_url,
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        headers={"x-goog-api-key": SECRET, "cookie": "sid=abc; theme=dark"},
        response_body={"candidates": [{"content": {"parts": [{"text": "hello"}]}}]},
        response_headers={"set-cookie": "sid=new; Path=/"},
        client_url="http://127.0.0.1:4000/v1/messages",
        client_body={"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "hi"}]},
        client_response_body={"type": "message", "content": [{"type": "text", "text": "hello"}]},
        meta={
            "provider": "gemini",
            "session_id": "sess-1",
            "client_wire": "anthropic",
            "upstream_wire": "gemini",
            "transform": {"action": "transform", "dest_provider": "gemini"},
        },
    )
    return to_contract(flow, reveal=True)


def test_pages_and_entries_layout(mixed_contract: list[dict[str, Any]], transformed: dict[str, Any]) -> None:
    flows = [*mixed_contract, transformed]
    har = flows_to_har(flows)
    _validate(har)
    log = har["log"]
    assert len(log["pages"]) == len(flows)
    assert len(log["entries"]) == 2 * len(flows)
    for i, flow in enumerate(flows):
        forwarded, client = log["entries"][2 * i], log["entries"][2 * i + 1]
        assert forwarded["pageref"] == client["pageref"] == log["pages"][i]["id"]
        assert forwarded["request"]["url"] == flow["request"]["url"]
        assert client["request"]["url"] == flow["client_request"]["url"]
        assert forwarded["_ccproxy"]["flow_id"] == client["_ccproxy"]["flow_id"] == flow["id"]
        assert (forwarded["_ccproxy"]["role"], client["_ccproxy"]["role"]) == ("forwarded", "client")


def test_transformed_flow_entries(transformed: dict[str, Any]) -> None:
    har = flows_to_har([transformed])
    _validate(har)
    forwarded, client = har["log"]["entries"]
    assert forwarded["request"]["url"].startswith("https://generativelanguage.googleapis.com/")
    assert forwarded["request"]["queryString"] == [{"name": "alt", "value": "sse"}]
    assert json.loads(forwarded["request"]["postData"]["text"])["contents"][0]["parts"][0]["text"] == "hi"
    assert json.loads(forwarded["response"]["content"]["text"])["candidates"]
    # The client entry pairs the client's request with the response the client got.
    assert client["request"]["url"] == "http://127.0.0.1:4000/v1/messages"
    assert json.loads(client["request"]["postData"]["text"])["model"] == "claude-haiku-4-5"
    assert json.loads(client["response"]["content"]["text"])["type"] == "message"
    assert forwarded["_ccproxy"] | {"role": "x"} == client["_ccproxy"] | {"role": "x"}
    assert forwarded["_ccproxy"]["provider"] == "gemini"
    assert forwarded["_ccproxy"]["session_id"] == "sess-1"
    assert forwarded["_ccproxy"]["transform"] == {"action": "transform", "dest_provider": "gemini"}
    assert (forwarded["_ccproxy"]["client_wire"], forwarded["_ccproxy"]["upstream_wire"]) == (
        "anthropic",
        "gemini",
    )


def test_timings_and_sizes(transformed: dict[str, Any]) -> None:
    entry = flows_to_har([transformed])["log"]["entries"][0]
    t = entry["timings"]
    assert t["send"] == pytest.approx(10, abs=0.01)
    assert t["wait"] == pytest.approx(190, abs=0.01)
    assert t["receive"] == pytest.approx(300, abs=0.01)
    # HAR: time is the sum of the known phases (ssl is counted inside connect).
    assert entry["time"] == pytest.approx(sum(v for k, v in t.items() if k != "ssl" and v >= 0))
    body = transformed["request"]["body"].encode()
    assert entry["request"]["bodySize"] == len(body)
    response_body = transformed["response"]["body"].encode()
    assert entry["response"]["content"]["size"] == len(response_body)
    assert entry["response"]["bodySize"] == len(response_body)
    assert entry["request"]["headersSize"] > 0


@pytest.mark.parametrize("reveal", [False, True])
def test_secrets_redacted_unless_revealed(transformed: dict[str, Any], reveal: bool) -> None:
    # The daemon was asked to reveal; the HAR still redacts unless --reveal-secrets.
    text = json.dumps(flows_to_har([transformed], reveal_secrets=reveal))
    assert (SECRET in text) is reveal
    assert ("sid=abc" in text) is reveal
    har = json.loads(text)
    headers = {h["name"]: h["value"] for h in har["log"]["entries"][0]["request"]["headers"]}
    assert headers["x-goog-api-key"] == (SECRET if reveal else "<redacted>")
    cookies = har["log"]["entries"][0]["request"]["cookies"]
    assert cookies == ([{"name": "sid", "value": "abc"}, {"name": "theme", "value": "dark"}] if reveal else [])
    assert har["log"]["entries"][0]["response"]["cookies"] == ([{"name": "sid", "value": "new"}] if reveal else [])


def test_binary_bodies_are_base64() -> None:
    payload = bytes(range(256)) * 4
    flow = to_contract(
        make_flow(
            "https://api.openai.com/v1/audio/speech",
            payload,
            response_body=payload[::-1],
            headers={"content-type": "application/octet-stream"},
        )
    )
    har = flows_to_har([flow])
    _validate(har)
    entry = har["log"]["entries"][0]
    assert entry["response"]["content"]["encoding"] == "base64"
    assert base64.b64decode(entry["response"]["content"]["text"]) == payload[::-1]
    assert entry["request"]["postData"]["_encoding"] == "base64"
    assert base64.b64decode(entry["request"]["postData"]["text"]) == payload
    assert entry["response"]["content"]["size"] == len(payload)


def test_failed_flow_has_status_zero_and_error() -> None:
    flow = to_contract(make_flow(status=None, error="connection reset by peer"))
    har = flows_to_har([flow])
    _validate(har)
    for entry in har["log"]["entries"]:
        assert entry["response"]["status"] == 0
        assert entry["response"]["_error"] == "connection reset by peer"


def test_flows_without_bodies_still_valid(mixed_flows: list[Any]) -> None:
    har = flows_to_har([to_contract(f, bodies=False) for f in mixed_flows])
    _validate(har)
    assert all("text" not in e["response"]["content"] for e in har["log"]["entries"])


def test_empty_set_is_a_valid_har() -> None:
    har = flows_to_har([])
    _validate(har)
    assert har["log"]["pages"] == [] and har["log"]["entries"] == []


def test_haralyzer_reads_every_page(mixed_contract: list[dict[str, Any]], transformed: dict[str, Any]) -> None:
    flows = [*mixed_contract, transformed]
    parser = HarParser(json.loads(json.dumps(flows_to_har(flows))))
    assert parser.creator["name"] == "ccproxy"
    assert [p.page_id for p in parser.pages] == [f"page_{i}" for i in range(len(flows))]
    for page, flow in zip(parser.pages, flows, strict=True):
        entries = page.entries
        assert len(entries) == 2
        assert entries[0].request.url == flow["request"]["url"]
        assert entries[0].request.method == flow["request"]["method"]
        assert entries[1].request.url == flow["client_request"]["url"]
        expected_status = flow["response"]["status_code"] if flow["response"] else 0
        assert entries[0].response.status == expected_status


@pytest.mark.parametrize(
    "breakage",
    [
        lambda h: h["log"]["entries"][0].pop("time"),
        lambda h: h["log"]["entries"][0]["request"].update(ccproxy="not prefixed"),
        lambda h: h["log"]["entries"][0]["timings"].update(wait=-1),
        lambda h: h["log"]["pages"][0].update(startedDateTime="yesterday"),
        lambda h: h["log"].update(version="1.1"),
    ],
)
def test_schema_check_is_not_vacuous(transformed: dict[str, Any], breakage: Any) -> None:
    har = flows_to_har([transformed])
    breakage(har)
    with pytest.raises(AssertionError):
        _validate(har)
