"""The official MCP client (fastmcp's, over streamable HTTP) against the real daemon: tools and
resources over flows that the official SDKs made through it, same-format and converted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from fastmcp.exceptions import ToolError
from google import genai
from google.genai import types as gt

from ccproxy.lightllm.ir import WIRES
from tests.support.daemon import DaemonProcess, provider_entry
from tests.support.fake_provider import FakeProvider

ANTHROPIC_KEY = "sk-ant-client-key-MCP-TOOLS"
SESSION = "6f1d0c2a-aaaa-bbbb-cccc-000011112222"
HIDDEN = 'map(select(.client_request.headers["x-hidden"] != "1"))'
MESSAGES = 'map(select(.request.path | startswith("/v1/messages")))'
TOOLS = {
    "list_flows", "get_flow", "get_request_body", "get_response_body", "dump_har", "diff_flows", "compare_flow",
    "clear_flows", "list_conversations", "get_conversation", "list_models", "pipeline_status", "namespace_status",
    "usage_summary", "list_shapes", "capture_shape",
}  # fmt: skip


@pytest.fixture(scope="module")
def daemon(shared_fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    rules = [{"match_model": "^to-anthropic$", "action": "transform", "dest_provider": "anthropic",
              "dest_model": "claude-converted"}]  # fmt: skip
    config = {
        "ccproxy": {
            "providers": {w: provider_entry(shared_fake.hostport, w) for w in WIRES},
            "lightllm": {"transforms": rules},
            "flows": {"default_jq_filters": [HIDDEN]},
        }
    }
    d = DaemonProcess(tmp_path_factory.mktemp("mcp"), config)
    d.start()
    yield d
    d.stop()


def mcp_url(daemon: DaemonProcess) -> str:
    return f"http://127.0.0.1:{daemon.config['ccproxy']['mcp']['port']}/mcp"


def _claude_turn(client: anthropic.Anthropic, messages: list[dict[str, Any]]) -> str:
    msg = client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=32,
        metadata={"user_id": f"user_abc_account_def_session_{SESSION}"},
        messages=messages,  # type: ignore[arg-type]
    )
    return "".join(b.text for b in msg.content if b.type == "text")


@pytest.fixture(scope="module")
def traffic(daemon: DaemonProcess) -> dict[str, str]:
    """Flows made by the SDKs; returns name -> flow id."""
    claude = anthropic.Anthropic(base_url=daemon.url, api_key=ANTHROPIC_KEY, max_retries=0)
    first = [{"role": "user", "content": "what's 2+2"}]
    answer = _claude_turn(claude, first)
    _claude_turn(claude, [*first, {"role": "assistant", "content": answer}, {"role": "user", "content": "and 3+3"}])
    with claude.messages.stream(
        model="claude-haiku-4-5", max_tokens=32, messages=[{"role": "user", "content": "stream please"}]
    ) as stream:
        stream.get_final_message()
    oai = openai.OpenAI(base_url=daemon.url + "/v1", api_key="sk-openai-client", max_retries=0)
    oai.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
    oai.responses.create(model="gpt-test", input="hi")
    gem = genai.Client(api_key="AIza-client-key-000000000000000", http_options=gt.HttpOptions(base_url=daemon.url))
    gem.models.generate_content(model="gemini-test", contents="hi")
    oai.chat.completions.create(model="to-anthropic", messages=[{"role": "user", "content": "convert me"}])
    claude.messages.create(
        model="claude-haiku-4-5",
        max_tokens=8,
        messages=[{"role": "user", "content": "hidden"}],
        extra_headers={"x-hidden": "1"},
    )
    flows = daemon.flows()
    assert len(flows) == 8
    names = ["turn1", "turn2", "stream", "chat", "responses", "gemini", "converted", "hidden"]
    return {name: f["id"] for name, f in zip(names, flows, strict=True)}


def client(url: str, **kw: Any) -> Client[Any]:
    return Client(StreamableHttpTransport(url, **kw))


async def call(url: str, tool: str, args: dict[str, Any] | None = None) -> Any:
    async with client(url) as c:
        result = await c.call_tool(tool, args or {})
    return result.structured_content


async def test_initialize_and_list(daemon: DaemonProcess) -> None:
    for url in (mcp_url(daemon), daemon.url + "/mcp"):  # the dedicated port and the proxy listener
        async with client(url) as c:
            assert c.initialize_result.serverInfo.name == "ccproxy"
            assert {t.name for t in await c.list_tools()} == TOOLS
            assert "ccproxy://status" in {str(r.uri) for r in await c.list_resources()}
            assert "ccproxy://flows/{flow_id}" in {t.uriTemplate for t in await c.list_resource_templates()}


async def test_list_flows_paged_with_default_filters(daemon: DaemonProcess, traffic: dict[str, str]) -> None:
    visible = [fid for name, fid in traffic.items() if name != "hidden"]
    page = await call(mcp_url(daemon), "list_flows", {"limit": 3})
    assert page["total"] == 7 and page["next_offset"] == 3
    assert [f["id"] for f in page["flows"]] == visible[:3]
    rest = await call(mcp_url(daemon), "list_flows", {"offset": 6, "limit": 3})
    assert [f["id"] for f in rest["flows"]] == visible[6:] and rest["next_offset"] is None
    row = page["flows"][0]
    assert row["method"] == "POST" and row["status"] == 200 and row["path"].startswith("/v1/messages")
    assert row["session_id"] == SESSION and row["client_wire"] == "anthropic"
    filtered = await call(mcp_url(daemon), "list_flows", {"jq": [MESSAGES]})
    expected = [traffic[n] for n in ("turn1", "turn2", "stream", "converted")]
    assert [f["id"] for f in filtered["flows"]] == expected


async def test_bad_jq_is_a_tool_error(daemon: DaemonProcess) -> None:
    async with client(mcp_url(daemon)) as c:
        with pytest.raises(ToolError, match=r"jq filter 'map\(select\(': syntax error"):
            await c.call_tool("list_flows", {"jq": ["map(select("]})
        with pytest.raises(ToolError, match="must yield a JSON array"):
            await c.call_tool("list_flows", {"jq": [".[0]"]})


async def test_get_flow_redacts_and_reveal_needs_config(daemon: DaemonProcess, traffic: dict[str, str]) -> None:
    flow = await call(mcp_url(daemon), "get_flow", {"flow_id": traffic["turn1"][:8]})
    assert flow["id"] == traffic["turn1"]
    assert ANTHROPIC_KEY not in json.dumps(flow)
    headers = flow["client_request"]["headers"]
    credentials = [headers[k] for k in ("x-api-key", "authorization") if k in headers]
    assert credentials == ["<redacted>"]
    assert json.loads(flow["client_request"]["body"])["messages"][0]["content"] == "what's 2+2"
    async with client(mcp_url(daemon)) as c:
        with pytest.raises(ToolError, match=r"mcp\.allow_reveal"):
            await c.call_tool("get_flow", {"flow_id": traffic["turn1"], "reveal": True})
        with pytest.raises(ToolError, match=r"mcp\.allow_reveal"):
            await c.call_tool("dump_har", {"reveal": True})
        with pytest.raises(ToolError, match="no flow 'nope'"):
            await c.call_tool("get_flow", {"flow_id": "nope"})
        resource = await c.read_resource(f"ccproxy://flows/{traffic['chat']}")
    assert json.loads(resource[0].text)["id"] == traffic["chat"]  # type: ignore[union-attr]


async def test_bodies_client_and_upstream_views(daemon: DaemonProcess, traffic: dict[str, str]) -> None:
    url, fid = mcp_url(daemon), traffic["converted"]
    client_req = await call(url, "get_request_body", {"flow_id": fid, "view": "client"})
    forwarded = await call(url, "get_request_body", {"flow_id": fid})
    assert client_req["json"]["model"] == "to-anthropic" and "max_tokens" not in client_req["json"]
    assert forwarded["json"]["model"] == "claude-converted" and forwarded["json"]["max_tokens"] > 0
    client_resp = await call(url, "get_response_body", {"flow_id": fid})
    upstream = await call(url, "get_response_body", {"flow_id": fid, "view": "upstream"})
    assert client_resp["json"]["object"] == "chat.completion"
    assert upstream["json"]["type"] == "message" and upstream["status_code"] == 200
    same = await call(url, "get_response_body", {"flow_id": traffic["chat"], "view": "upstream"})
    assert same["json"] == (await call(url, "get_response_body", {"flow_id": traffic["chat"]}))["json"]
    streamed = await call(url, "get_response_body", {"flow_id": traffic["stream"]})
    assert streamed["json"] is None and "event: message_stop" in streamed["text"]


async def test_har_diff_compare(daemon: DaemonProcess, traffic: dict[str, str]) -> None:
    url = mcp_url(daemon)
    har = await call(url, "dump_har", {"jq": [MESSAGES]})
    assert len(har["log"]["pages"]) == 4 and len(har["log"]["entries"]) == 8
    assert ANTHROPIC_KEY not in json.dumps(har)
    session_only = f'map(select(.ccproxy.session_id == "{SESSION}"))'
    diffs = (await call(url, "diff_flows", {"jq": [session_only]}))["diffs"]
    assert [(d["from"], d["to"]) for d in diffs] == [(traffic["turn1"][:8], traffic["turn2"][:8])]
    assert not diffs[0]["identical"] and '+      "content": "and 3+3"' in diffs[0]["diff"]
    async with client(url) as c:
        with pytest.raises(ToolError, match="at least 2 flows"):
            await c.call_tool("diff_flows", {"jq": [f'map(select(.id == "{traffic["chat"]}"))']})
    converted = (await call(url, "compare_flow", {"flow_id": traffic["converted"]}))["comparisons"][0]
    assert converted["url_change"][1].endswith("/v1/messages") and not converted["identical_bodies"]
    assert '+  "max_tokens"' in converted["body_diff"]
    same = (await call(url, "compare_flow", {"flow_id": traffic["chat"]}))["comparisons"][0]
    assert same["identical_bodies"]


async def test_conversations(daemon: DaemonProcess, traffic: dict[str, str]) -> None:
    url = mcp_url(daemon)
    groups = (await call(url, "list_conversations"))["conversations"]
    mine = next(g for g in groups if g["key"] == SESSION)
    assert mine["turns"] == 2 and mine["flow_ids"] == [traffic["turn1"], traffic["turn2"]]
    convo = await call(url, "get_conversation", {"key": SESSION})
    roles = [(t["role"], t["flow_id"]) for t in convo["turns"]]
    t1, t2 = traffic["turn1"], traffic["turn2"]
    assert roles == [("user", t1), ("assistant", t1), ("user", t2), ("assistant", t2)]
    assert convo["turns"][0]["text"] == "what's 2+2" and convo["turns"][2]["text"] == "and 3+3"
    flows = {f["id"]: f for f in daemon.flows(bodies="1")}
    for turn in convo["turns"][1::2]:
        reply = json.loads(flows[turn["flow_id"]]["response"]["body"])
        assert turn["text"] == "".join(b["text"] for b in reply["content"] if b["type"] == "text")
        assert turn["usage"]["output_tokens"] == reply["usage"]["output_tokens"]
    stream_key = next(g["key"] for g in groups if g["flow_ids"] == [traffic["stream"]])
    streamed = await call(url, "get_conversation", {"key": stream_key})
    assert streamed["turns"][1]["role"] == "assistant" and streamed["turns"][1]["text"]
    async with client(url) as c:
        with pytest.raises(ToolError, match="no conversation 'nope'"):
            await c.call_tool("get_conversation", {"key": "nope"})


async def test_models_pipeline_namespace_status(daemon: DaemonProcess, traffic: dict[str, str]) -> None:
    url = mcp_url(daemon)
    models = await call(url, "list_models")
    assert models == httpx.get(daemon.url + "/v1/models", timeout=10, trust_env=False).json()
    status = json.loads(daemon.cli("status", "--json").stdout)
    assert await call(url, "pipeline_status") == status["pipeline"]
    ns = await call(url, "namespace_status")
    cli_ns = json.loads(daemon.cli("namespace", "status", "--json").stdout)
    assert ns["tools"] == cli_ns["tools"] and ns["ok"] == (not cli_ns.get("problems"))
    async with client(url) as c:
        text = (await c.read_resource("ccproxy://status"))[0].text  # type: ignore[union-attr]
    st = json.loads(text)
    assert st["ready"] and st["flows"] == len(daemon.flows())
    assert st["listeners"]["mcp"] == f"127.0.0.1:{daemon.config['ccproxy']['mcp']['port']}"


async def test_shape_tools(daemon: DaemonProcess, traffic: dict[str, str]) -> None:
    url = mcp_url(daemon)
    rows = {r["provider"]: r for r in (await call(url, "list_shapes"))["result"]}
    assert rows["anthropic"]["source"] == "packaged"  # no local shape yet
    saved = await call(url, "capture_shape", {"provider": "anthropic", "request_only": True})
    assert saved["provider"] == "anthropic" and saved["path"].endswith("anthropic.mflow")
    raw = (daemon.config_dir / "shapes" / "anthropic.mflow").read_bytes()
    assert b"sk-ant-" not in raw
    rows = {r["provider"]: r for r in (await call(url, "list_shapes"))["result"]}
    assert rows["anthropic"]["source"] == "local"
    async with client(url) as c:
        with pytest.raises(ToolError, match="unknown provider 'nope'"):
            await c.call_tool("capture_shape", {"provider": "nope"})


async def test_usage_summary_is_ccproxy_usage(daemon: DaemonProcess, traffic: dict[str, str]) -> None:
    for args in ([], ["--by", "provider", "--jq", 'map(select(.ccproxy.provider == "anthropic"))']):
        cli = daemon.cli("usage", "--json", *args)
        assert cli.returncode == 0, cli.stderr
        tool_args: dict[str, Any] = {"by": "provider", "jq": [args[-1]]} if args else {}
        assert await call(mcp_url(daemon), "usage_summary", tool_args) == json.loads(cli.stdout)
    async with client(mcp_url(daemon)) as c:
        with pytest.raises(ToolError, match="use a duration"):
            await c.call_tool("usage_summary", {"since": "yesterday"})


def test_foreign_host_and_origin_refused(daemon: DaemonProcess) -> None:
    params = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}
    accept = {"accept": "application/json, text/event-stream"}
    for url in (mcp_url(daemon), daemon.url + "/mcp"):
        for bad in ({"origin": "http://evil.example"}, {"origin": "null"}, {"host": "evil.example"}):
            r = httpx.post(url, json=init, headers={**accept, **bad}, timeout=10, trust_env=False)
            assert r.status_code == 403, (url, bad, r.text)
        # A page of ccproxy's own origin passes; any other origin (another local port included) is a
        # foreign page unless inspector.allow_origins lists it (docs/security.md).
        own = url.removesuffix("/mcp")
        ok = httpx.post(url, json=init, headers={**accept, "origin": own}, timeout=10, trust_env=False)
        assert ok.status_code == 200, ok.text
    assert httpx.get(daemon.url + "/mcp", timeout=10, trust_env=False).status_code == 405


async def test_clear_flows_last(daemon: DaemonProcess, traffic: dict[str, str]) -> None:
    url = mcp_url(daemon)
    only_chat = f'map(select(.id == "{traffic["chat"]}"))'
    assert await call(url, "clear_flows", {"jq": [only_chat]}) == {"deleted": 1}
    assert traffic["chat"] not in {f["id"] for f in daemon.flows()}
    assert await call(url, "clear_flows", {"all": True}) == {"deleted": 7}  # the hidden flow too
    assert daemon.flows() == []
