"""`ccproxy flows ...` as a subprocess against the real daemon, with flows made by the official SDKs.

One daemon serves the whole module (starting one costs seconds): the read-only tests come
first, then `clear`, then the test that stops the daemon.
"""

from __future__ import annotations

import json
import re
from typing import Any

import anthropic
import jsonschema
import openai
import pytest
from google import genai
from google.genai import types as gtypes
from har12_schema import HAR_SCHEMA
from haralyzer import HarParser
from ptykit import PROMPT, PtySession, ccproxy_flows_argv
from tests.support.daemon import DaemonProcess

HOST = 'map(select(.request.pretty_host == "api.anthropic.com"))'
MESSAGES = 'map(select(.request.path | startswith("/v1/messages")))'
POST = 'map(select(.request.method == "POST"))'
OK = "map(select(.response.status_code == 200))"
ANTHROPIC_KEY = "sk-ant-client-key-REAL-DAEMON"
SESSION = "5e0c9a6e-1111-2222-3333-444455556666"


def _claude(client: anthropic.Anthropic, question: str) -> None:
    client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=32,
        metadata={"user_id": f"user_abc_account_def_session_{SESSION}"},
        messages=[
            {
                "role": "user",
                "content": [{"type": "text", "text": question, "cache_control": {"type": "ephemeral"}}],
            }
        ],
    )


@pytest.fixture(scope="module")
def daemon(shared_daemon: DaemonProcess) -> DaemonProcess:
    return shared_daemon


@pytest.fixture(scope="module")
def traffic(daemon: DaemonProcess) -> list[dict[str, Any]]:
    """Real SDK calls through the daemon: two Claude turns, a stream, OpenAI chat and responses, Gemini."""
    claude = anthropic.Anthropic(base_url=daemon.url, api_key=ANTHROPIC_KEY, max_retries=0)
    _claude(claude, "what's 2+2")
    _claude(claude, "what's 3+3")
    with claude.messages.stream(
        model="claude-haiku-4-5", max_tokens=32, messages=[{"role": "user", "content": "stream please"}]
    ) as stream:
        stream.get_final_message()
    oai = openai.OpenAI(base_url=daemon.url + "/v1", api_key="sk-openai-client", max_retries=0)
    oai.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
    oai.responses.create(model="gpt-test", input="hi")
    gem = genai.Client(api_key="AIza-client-key-000000000000000", http_options=gtypes.HttpOptions(base_url=daemon.url))
    gem.models.generate_content(model="gemini-test", contents="hi")
    flows = daemon.flows(bodies="1")
    assert len(flows) == 6
    return flows


def _ok(proc: Any) -> str:
    assert proc.returncode == 0, proc.stderr
    return str(proc.stdout)


def test_list_json_and_table(daemon: DaemonProcess, traffic: list[dict[str, Any]]) -> None:
    data = json.loads(_ok(daemon.cli("flows", "list", "--json")))
    assert [f["id"] for f in data] == [f["id"] for f in traffic]
    table = _ok(daemon.cli("flows", "list", "--jq", MESSAGES))
    rows = [ln for ln in table.splitlines() if ln.startswith("│")]
    expected = [f for f in traffic if f["request"]["path"].startswith("/v1/messages")]
    assert [r.split("│")[1].strip() for r in rows] == [f["id"][:8] for f in expected]
    assert all(re.search(r"│ POST +│ 200 +│", r) for r in rows)
    assert all("ago" in r for r in rows)


def test_seed_filter_chain(daemon: DaemonProcess, traffic: list[dict[str, Any]]) -> None:
    data = json.loads(_ok(daemon.cli("flows", "list", "--json", "--jq", HOST, "--jq", POST, "--jq", OK)))
    expected = [
        f["id"]
        for f in traffic
        if f["request"]["pretty_host"] == "api.anthropic.com"
        and f["request"]["method"] == "POST"
        and (f["response"] or {}).get("status_code") == 200
    ]
    assert [f["id"] for f in data] == expected
    data = json.loads(_ok(daemon.cli("flows", "list", "--json", "--jq", POST, "--jq", OK, "--jq", MESSAGES)))
    assert len(data) == 3


def test_config_default_filters(daemon: DaemonProcess, traffic: list[dict[str, Any]]) -> None:
    config = dict(daemon.config)
    config["ccproxy"] = {**config["ccproxy"], "flows": {"default_jq_filters": [MESSAGES]}}
    import yaml

    path = daemon.config_dir / "ccproxy.yaml"
    original = path.read_text()
    path.write_text(yaml.safe_dump(config))  # the CLI reads it on every run; the daemon is unaffected
    try:
        data = json.loads(_ok(daemon.cli("flows", "list", "--json")))
    finally:
        path.write_text(original)
    assert [f["id"] for f in data] == [f["id"] for f in traffic if f["request"]["path"].startswith("/v1/messages")]


def test_dump_har(daemon: DaemonProcess, traffic: list[dict[str, Any]]) -> None:
    out = _ok(daemon.cli("flows", "dump"))
    assert ANTHROPIC_KEY not in out
    har = json.loads(out)
    errors = list(jsonschema.Draft202012Validator(HAR_SCHEMA).iter_errors(har))
    assert not errors, errors[0].message
    assert len(har["log"]["pages"]) == len(traffic)
    parser = HarParser(har)
    for page, flow in zip(parser.pages, traffic, strict=True):
        forwarded, client = page.entries
        assert forwarded.request.url == flow["request"]["url"]
        assert client.request.url == flow["client_request"]["url"]
        assert forwarded.response.status == 200
    stream_entry = har["log"]["entries"][4]
    assert "message_stop" in stream_entry["response"]["content"]["text"]
    # The client's key is not kept at rest (flows.store_secrets: false), so nothing reveals it.
    revealed = _ok(daemon.cli("flows", "dump", "--reveal-secrets", "--jq", MESSAGES))
    assert ANTHROPIC_KEY not in revealed


def test_diff_and_compare(daemon: DaemonProcess, traffic: list[dict[str, Any]]) -> None:
    two = 'map(select(.request.body | contains("what")))'
    out = _ok(daemon.cli("flows", "diff", "--jq", MESSAGES, "--jq", two))
    a, b = (f["id"][:8] for f in traffic[:2])
    assert out.startswith(f"--- flow:{a}\n+++ flow:{b}\n@@ ")
    assert [
        ln for ln in out.splitlines() if ln.startswith(("+ ", "- ", "+\t", "-\t")) or re.match(r"^[+-] +\"text\"", ln)
    ] == ['-          "text": "what\'s 2+2",', '+          "text": "what\'s 3+3",']
    failed = daemon.cli("flows", "diff", "--jq", ".[:1]")
    assert failed.returncode == 1
    assert failed.stderr.strip() == "ccproxy: error: flows diff needs at least 2 flows, the set has 1."
    out = _ok(daemon.cli("flows", "compare", "--jq", MESSAGES))
    for flow in traffic[:3]:
        assert f"{flow['id'][:8]}: request bodies are identical." in out


def test_group_conversations(daemon: DaemonProcess, traffic: list[dict[str, Any]]) -> None:
    groups = json.loads(_ok(daemon.cli("flows", "list", "--group", "--json")))
    session = [g for g in groups if g["key"] == SESSION]
    assert len(session) == 1 and session[0]["turns"] == 2 and session[0]["source"] == "session"
    assert session[0]["flow_ids"] == [f["id"] for f in traffic[:2]]
    assert sum(g["turns"] for g in groups) == len(traffic)
    assert all(g["input_tokens"] + g["output_tokens"] > 0 for g in groups)
    daemon.env["COLUMNS"] = "200"
    try:
        table = _ok(daemon.cli("flows", "list", "--group"))
    finally:
        del daemon.env["COLUMNS"]
    assert SESSION in table


def test_repl_over_real_daemon(daemon: DaemonProcess, traffic: list[dict[str, Any]]) -> None:
    argv = [*ccproxy_flows_argv(), "repl", "--history-file", str(daemon.config_dir / "history")]
    session = PtySession(argv, {**daemon.env, "TERM": "dumb", "COLUMNS": "120"})
    try:
        assert int(session.expect(PROMPT).group(1)) == len(traffic)
        _, count = session.command(f":jq {MESSAGES}")
        assert count == 3
        out, _ = session.command(":diff")
        assert '-          "text": "what\'s 2+2",' in out
        out, _ = session.command(f":show {traffic[0]['id'][:8]}")
        assert json.loads(out)["id"] == traffic[0]["id"]
        session.send(":quit")
        assert session.proc.wait(timeout=10) == 0
    finally:
        session.close()


def test_repl_show_outside_the_filtered_set(daemon: DaemonProcess, traffic: list[dict[str, Any]]) -> None:
    argv = [*ccproxy_flows_argv(), "repl", "--jq", MESSAGES, "--history-file", str(daemon.config_dir / "h")]
    session = PtySession(argv, {**daemon.env, "TERM": "dumb"})
    try:
        assert int(session.expect(PROMPT).group(1)) == 3
        gemini = traffic[-1]
        out, _ = session.command(f":show {gemini['id'][:8]}")
        assert json.loads(out)["request"]["path"] == gemini["request"]["path"]
        out, _ = session.command(":show ffffffff")
        assert out.strip() == "No flow with id 'ffffffff'."
        session.send("\x04")
        assert session.proc.wait(timeout=10) == 0
    finally:
        session.close()


def test_clear(daemon: DaemonProcess, traffic: list[dict[str, Any]]) -> None:
    out = _ok(daemon.cli("flows", "clear", "--jq", MESSAGES))
    assert out.strip() == "Cleared 3 flow(s)."
    assert [f["id"] for f in daemon.flows()] == [f["id"] for f in traffic[3:]]
    assert _ok(daemon.cli("flows", "clear", "--all", "--jq", "map(select(false))")).strip() == "Cleared 3 flow(s)."
    assert daemon.flows() == []
    assert _ok(daemon.cli("flows", "list")).strip() == "No flows in the set."


def test_invalid_filter_and_stopped_daemon(daemon: DaemonProcess, traffic: list[dict[str, Any]]) -> None:
    bad = daemon.cli("flows", "list", "--jq", "map(select(.request.method ==))")
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1
    assert bad.stderr.startswith("ccproxy: error: jq filter 'map(select(.request.method ==))': syntax error")
    # `test_clear` emptied the store: record one more flow, so the offline read has something to find.
    oai = openai.OpenAI(base_url=daemon.url + "/v1", api_key="sk-openai-client", max_retries=0)
    oai.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "after clear"}])
    before = [f["id"] for f in daemon.flows()]
    assert before
    daemon.stop()
    # With the daemon down the CLI reads flows.db itself, and says so in one line.
    down = daemon.cli("flows", "list", "--json")
    assert down.returncode == 0, down.stderr
    assert [f["id"] for f in json.loads(down.stdout)] == before
    db = daemon.config_dir / "flows.db"
    assert down.stderr == f"ccproxy: daemon not running; reading {db} directly (read-only)\n"
    import yaml

    path = daemon.config_dir / "ccproxy.yaml"
    original = path.read_text()
    config = yaml.safe_load(original)
    config["ccproxy"]["state_dir"] = str(daemon.config_dir / "empty")  # no flows.db there
    path.write_text(yaml.safe_dump(config))
    try:
        nothing = daemon.cli("flows", "list")
    finally:
        path.write_text(original)
    assert nothing.returncode == 1
    expected = f"ccproxy: error: ccproxy is not running at {daemon.url} (start it with `ccproxy start`)"
    assert nothing.stderr.strip() == expected
