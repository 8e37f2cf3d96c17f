"""Planted secrets searched in every output; the redaction vocabulary; %-encoded sentinels;
the log file's mode; an auth command's stderr kept in the log."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from ccproxy.providers.redact import SECRET_HEADERS, SECRET_QUERY, redact_target
from ccproxy.providers.sentinel import HEADER_SLOTS, PREFIX, QUERY_SLOTS
from tests.security.leaks import find_leaks
from tests.support.daemon import DaemonProcess, provider_entry
from tests.support.fake_provider import FakeProvider

SECRETS = {
    "azure api-key header": "azure-planted-secret-1111aaaa",
    "gemini ?key= query": "AIzaPlantedGeminiSecret2222bbbbccccdddd",
    "injected credential": "injected-planted-secret-3333eeee",
    "client x-api-key": "sk-ant-api03-planted-client-4444ffff",
}
GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


@pytest.fixture(scope="module")
def planted(shared_fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """A DEBUG daemon that has forwarded each planted secret once, through the real SDKs where
    the secret's slot is an SDK's own (Azure's api-key, the Anthropic key)."""
    import anthropic
    import openai

    fake = shared_fake
    # The injected credential comes from a file outside the config and state dirs (as a
    # user's secret manager would keep it): the config itself must not hold it.
    key_file = tmp_path_factory.mktemp("secrets") / "anthropic.key"
    key_file.write_text(SECRETS["injected credential"] + "\n")
    providers = {
        "anthropic": provider_entry(fake.hostport, "anthropic", auth={"type": "file", "file_path": str(key_file)}),
        "openai": provider_entry(fake.hostport, "openai"),
        "gemini": provider_entry(fake.hostport, "gemini"),
    }
    d = DaemonProcess(tmp_path_factory.mktemp("planted"), {"ccproxy": {"log_level": "DEBUG", "providers": providers}})
    d.start(timeout=90)
    try:
        azure = openai.AzureOpenAI(
            api_key=SECRETS["azure api-key header"], azure_endpoint=d.url, api_version="2024-06-01", max_retries=0
        )
        azure.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
        assert fake.last().headers["api-key"] == SECRETS["azure api-key header"]  # passed through, as configured
        httpx.post(
            f"{d.url}/v1beta/models/gemini-test:generateContent?key={SECRETS['gemini ?key= query']}",
            json=GEMINI_BODY,
            trust_env=False,
        ).raise_for_status()
        anthropic.Anthropic(base_url=d.url, api_key=PREFIX + "anthropic", max_retries=0).messages.create(
            model="claude-test", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
        assert fake.last().headers["x-api-key"] == SECRETS["injected credential"]
        # The client's own key through the same provider: no sentinel, it passes through.
        anthropic.Anthropic(base_url=d.url, api_key=SECRETS["client x-api-key"], max_retries=0).messages.create(
            model="claude-test", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
        yield d
    finally:
        d.stop()


def test_planted_secrets_are_in_no_output(planted: DaemonProcess) -> None:
    assert find_leaks(planted, SECRETS) == []


def test_the_search_is_not_blind(planted: DaemonProcess, shared_fake: FakeProvider) -> None:
    """Where the secrets legitimately are -- what the upstream received -- the search finds each."""
    from tests.security.leaks import Output

    def upstream(_d: DaemonProcess) -> Iterator[Output]:
        yield Output("upstream", json.dumps([[r.path, r.headers] for r in shared_fake.received]))

    assert sorted(find_leaks(planted, SECRETS, (upstream,))) == sorted(f"upstream: {label}" for label in SECRETS)


def test_gemini_key_redacted_in_path_url_and_har_query(planted: DaemonProcess) -> None:
    [flow] = [f for f in planted.flows() if f["ccproxy"]["client_wire"] == "gemini"]
    for side in ("request", "client_request"):
        assert flow[side]["path"].endswith("?key=<redacted>"), flow[side]["path"]
        assert flow[side]["url"].endswith("?key=<redacted>")
    har = json.loads(planted.cli("flows", "dump", "--jq", 'map(select(.ccproxy.client_wire == "gemini"))').stdout)
    for entry in har["log"]["entries"]:
        assert {"name": "key", "value": "<redacted>"} in entry["request"]["queryString"]
    azure = next(f for f in planted.flows() if "api-key" in f["client_request"]["headers"])
    assert azure["client_request"]["headers"]["api-key"] == "<redacted>"
    assert azure["request"]["headers"]["api-key"] == "<redacted>"


def test_one_vocabulary_covers_every_sentinel_slot() -> None:
    assert set(HEADER_SLOTS) <= SECRET_HEADERS and "api-key" in SECRET_HEADERS
    assert set(QUERY_SLOTS) <= SECRET_QUERY
    assert "x-ccproxy-token" in SECRET_HEADERS


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/v1beta/models/m:gen?key=AIzaX&alt=sse", "/v1beta/models/m:gen?key=<redacted>&alt=sse"),
        ("http://h:1/p?alt=sse&api_key=x#frag", "http://h:1/p?alt=sse&api_key=<redacted>#frag"),
        ("/p?KEY=x&keep=key", "/p?KEY=<redacted>&keep=key"),
        ("/p?k%65y=x", "/p?k%65y=<redacted>"),
        ("/p?monkey=1", "/p?monkey=1"),
        ("/p", "/p"),
    ],
)
def test_redact_target(target: str, expected: str) -> None:
    assert redact_target(target) == expected


def _decoded_forms(text: str) -> list[str]:
    out = [text]
    for _ in range(4):
        out.append(unquote(out[-1]))
    return out


@pytest.mark.parametrize(
    "path",
    [
        "/v1/messages/sk%2Dant%2Doat%2Dccproxy%2Danthropic",
        "/v1/messages/sk%252Dant%252Doat%252Dccproxy%252Danthropic",  # encoded twice
        "/v1/messages/%73k-ant-oat-ccproxy-anthropic?beta=true",
        "/v1/messages?x=1&sk%2Dant%2Doat%2Dccproxy%2Danthropic=1",
    ],
)
def test_percent_encoded_sentinel_never_leaves(planted: DaemonProcess, shared_fake: FakeProvider, path: str) -> None:
    before = len(shared_fake.received)
    r = httpx.post(
        planted.url + path,
        json={"model": "claude-test", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": PREFIX + "anthropic", "anthropic-version": "2023-06-01"},
        trust_env=False,
    )
    for rec in shared_fake.received[before:]:
        for form in _decoded_forms(rec.path):
            assert PREFIX not in form, f"{r.status_code}: forwarded {rec.path!r}"


def test_log_file_is_private(planted: DaemonProcess) -> None:
    path = planted.state_dir / "ccproxy.log"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_existing_log_file_is_tightened(shared_fake: FakeProvider, start_daemon: Any, tmp_path: Path) -> None:
    old = tmp_path / "cfg" / "ccproxy.log"
    old.parent.mkdir()
    old.write_text("from an older version\n")
    old.chmod(0o644)
    start_daemon({"ccproxy": {"providers": {"anthropic": provider_entry(shared_fake.hostport, "anthropic")}}})
    assert stat.S_IMODE(old.stat().st_mode) == 0o600
    assert old.read_text().startswith("from an older version\n")  # appended to, not replaced


def test_rotated_log_files_are_private(tmp_path: Path) -> None:
    import logging

    from ccproxy.daemon.logs import PrivateRotatingFileHandler

    handler = PrivateRotatingFileHandler(tmp_path / "x.log", maxBytes=64, backupCount=2)
    try:
        record = logging.LogRecord("t", logging.INFO, __file__, 1, "x" * 50, None, None)
        for _ in range(5):
            handler.emit(record)
    finally:
        handler.close()
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["x.log", "x.log.1", "x.log.2"]
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
