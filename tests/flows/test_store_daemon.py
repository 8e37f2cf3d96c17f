"""The SQLite flow store behind the real daemon: crash safety, secrets at rest, migration,
the CLI without the daemon, export for mitmproxy, query push-down, the bounded web view."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
from pathlib import Path
from typing import Any

import httpx
from mitmproxy import http
from mitmproxy import io as mio
from tests.conftest import all_wires_providers
from tests.support.daemon import DaemonProcess, free_port, provider_entry
from tests.support.fake_provider import FakeProvider

SENTINEL = "sk-ant-oat-ccproxy-anthropic"
REAL_TOKEN = "real-oauth-token-" + "Q7w9E2r4T6y8" * 3
DATA = Path(__file__).parent / "data"


def _post(d: DaemonProcess, text: str, **kw: Any) -> httpx.Response:
    body = {"model": "claude-test", "max_tokens": 8, "messages": [{"role": "user", "content": text}]}
    return httpx.post(d.url + "/v1/messages", json=body, trust_env=False, timeout=30, **kw)


def _texts(flows: list[dict[str, Any]]) -> list[str]:
    out = []
    for f in flows:
        body = json.loads((f.get("client_request") or f["request"])["body"])
        out.append(body["messages"][0]["content"])
    return out


def test_kill_9_under_load_loses_nothing_completed(fake: FakeProvider, start_daemon) -> None:
    d = start_daemon({"ccproxy": {"providers": all_wires_providers(fake)}})
    completed: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(worker: int) -> None:
        n = 0
        while not stop.is_set():
            text = f"w{worker}-{n}"
            n += 1
            try:
                r = _post(d, text)
            except httpx.HTTPError:
                return  # the daemon died under this request
            if r.status_code == 200 and r.json().get("type") == "message":
                with lock:
                    completed.append(text)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    while True:  # kill once enough flows completed, with requests still in flight
        with lock:
            if len(completed) >= 60:
                break
        threading.Event().wait(0.01)
    assert d.proc is not None
    os.kill(d.proc.pid, signal.SIGKILL)
    d.proc.wait()
    stop.set()
    for t in threads:
        t.join(30)
    done = set(completed)
    d.start()
    stored = _texts(d.flows(bodies="1"))
    answered = {json.loads(r.body)["messages"][0]["content"] for r in fake.received}
    assert len(stored) == len(set(stored)), "a flow was stored twice"
    assert done <= set(stored), f"lost {sorted(done - set(stored))}"
    assert set(stored) <= answered  # nothing recorded that the upstream never answered


def test_injected_credential_is_not_in_the_database_file(fake: FakeProvider, start_daemon) -> None:
    auth = {"type": "command", "command": f"printf %s {REAL_TOKEN}"}
    providers = {"anthropic": provider_entry(fake.hostport, "anthropic", auth=auth)}
    d = start_daemon({"ccproxy": {"providers": providers}})
    r = _post(d, "secret test", headers={"x-api-key": SENTINEL})
    assert r.status_code == 200
    assert fake.received[-1].headers["x-api-key"] == REAL_TOKEN  # it did go upstream
    [flow] = d.flows()
    one = httpx.get(f"{d.url}/flows/{flow['id']}?reveal=1", trust_env=False, headers=d.token_headers()).json()
    assert one["request"]["headers"]["x-api-key"] == "<injected:anthropic>"
    assert d.stop() == 0
    raw = b"".join(p.read_bytes() for p in d.config_dir.glob("flows.db*"))
    assert REAL_TOKEN.encode() not in raw
    assert REAL_TOKEN[:20].encode() not in raw


def test_migrates_a_flow_file_of_the_previous_store(start_daemon, tmp_path: Path) -> None:
    """`data/legacy-flows.mitm` is the flows.mitm of a real daemon at the commit before this store."""
    d = DaemonProcess(tmp_path / "cfg", {"ccproxy": {}})
    shutil.copy(DATA / "legacy-flows.mitm", d.config_dir / "flows.mitm")
    d.start()
    try:
        flows = d.flows()
        assert [f["request"]["path"] for f in flows] == ["/v1/messages", "/v1/messages", "/v1/chat/completions"]
        assert not (d.config_dir / "flows.mitm").exists()
        assert (d.config_dir / "flows.mitm.imported").exists()
    finally:
        d.stop()
    d.start()  # imported once: the restart neither re-imports nor loses them
    try:
        assert len(d.flows()) == 3
    finally:
        d.stop()


def test_cli_reads_the_database_when_the_daemon_is_down(fake: FakeProvider, start_daemon, tmp_path: Path) -> None:
    d = start_daemon({"ccproxy": {"providers": all_wires_providers(fake)}})
    for i in range(3):
        _post(d, f"offline {i}")
    online = json.loads(d.cli("flows", "list", "--json").stdout)
    assert d.stop() == 0
    r = d.cli("flows", "list", "--json")
    assert r.returncode == 0, r.stderr
    assert [f["id"] for f in json.loads(r.stdout)] == [f["id"] for f in online]
    assert r.stderr.count("\n") == 1 and "daemon not running" in r.stderr and "read-only" in r.stderr
    table = d.cli("flows", "list")
    assert table.returncode == 0 and online[0]["id"][:8] in table.stdout
    target = tmp_path / "offline.mitm"
    exported = d.cli("flows", "export", "-o", str(target))
    assert exported.returncode == 0, exported.stderr
    with target.open("rb") as fh:
        assert len(list(mio.FlowReader(fh).stream())) == 3
    refused = d.cli("flows", "clear", "--all")
    assert refused.returncode == 1 and "--offline" in refused.stderr and "Traceback" not in refused.stderr
    cleared = d.cli("flows", "clear", "--all", "--offline")
    assert cleared.returncode == 0, cleared.stderr
    assert "Cleared 3 flow(s)." in cleared.stdout
    assert json.loads(d.cli("flows", "list", "--json").stdout) == []


def test_export_loads_in_mitmproxy_and_filters_push_down(fake: FakeProvider, start_daemon, tmp_path: Path) -> None:
    d = start_daemon({"ccproxy": {"providers": all_wires_providers(fake)}})
    _post(d, "to anthropic")
    httpx.post(d.url + "/v1/chat/completions", json={"model": "gpt-x", "messages": []}, trust_env=False)
    target = tmp_path / "out.mitm"
    only = 'map(select(.request.path | startswith("/v1/messages")))'
    r = d.cli("flows", "export", "--jq", only, "-o", str(target))
    assert r.returncode == 0, r.stderr
    with target.open("rb") as fh:
        flows = list(mio.FlowReader(fh).stream())
    assert len(flows) == 1 and isinstance(flows[0], http.HTTPFlow)
    assert flows[0].request.path == "/v1/messages" and flows[0].response is not None
    # The same selections as query parameters of GET /flows.
    assert [f["request"]["path"] for f in d.flows(path_prefix="/v1/chat")] == ["/v1/chat/completions"]
    assert [f["ccproxy"]["provider"] for f in d.flows(provider="openai")] == ["openai"]
    assert len(d.flows(limit="1")) == 1 and d.flows(limit="1")[0]["request"]["path"] == "/v1/chat/completions"
    assert d.flows(model="claude-test")[0]["request"]["path"] == "/v1/messages"
    assert d.flows(since="9999999999") == []
    bad = httpx.get(d.url + "/flows?limit=lots", trust_env=False)
    assert bad.status_code == 400 and "limit" in bad.json()["error"]


def test_store_and_web_view_stay_bounded_after_eviction(fake: FakeProvider, start_daemon) -> None:
    web_port = free_port()
    cfg = {
        "ccproxy": {
            "providers": all_wires_providers(fake),
            "flows": {"max_flows": 4},
            "inspector": {"web": True, "port": web_port, "web_max_flows": 6},
        }
    }
    d = start_daemon(cfg)
    for i in range(12):
        assert _post(d, f"bounded {i}").status_code == 200
    stored = d.flows()
    assert len(stored) == 4
    assert httpx.get(d.url + "/health", trust_env=False).json()["flows"] == 4
    token = (d.config_dir / "web-inspector.url").read_text().strip().split("token=")[1]
    ui = httpx.get(
        f"http://127.0.0.1:{web_port}/flows", headers={"authorization": f"Bearer {token}"}, trust_env=False
    ).json()
    # Evicted flows left the UI too: it shows what the store holds, never more than its window.
    assert [f["id"] for f in ui] == [f["id"] for f in stored]


def test_concurrent_load_is_recorded_and_bounded(fake: FakeProvider, start_daemon) -> None:
    d = start_daemon({"ccproxy": {"providers": all_wires_providers(fake), "flows": {"max_flows": 50}}})
    results: list[int] = []

    def worker(k: int) -> None:
        for i in range(25):
            results.append(_post(d, f"load {k}-{i}").status_code)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert results == [200] * 200
    flows = d.flows()
    assert len(flows) == 50 and len({f["id"] for f in flows}) == 50
    assert len(fake.received) == 200


def test_stored_flows_of_the_real_daemon_serialise_as_mitmproxy_does(fake: FakeProvider, start_daemon) -> None:
    """The flows the daemon records (passthrough, converted JSON and stream, an upstream reset),
    read back: the store's faster `flow_state` gives exactly `get_state`, and the `data` column
    holds the same (they were scrubbed when stored: scrubbing again changes nothing)."""
    from mitmproxy.io import tnetstring
    from tests.support.fake_provider import Reply

    from ccproxy import mitm_compat
    from ccproxy.flows.store import FlowStore

    rule = {"match_path": "^/v1/chat/completions", "match_model": "^to-claude", "action": "transform",
            "dest_provider": "anthropic", "dest_model": "claude-test"}  # fmt: skip
    cfg = {"ccproxy": {"providers": all_wires_providers(fake), "lightllm": {"transforms": [rule]}}}
    d = start_daemon(cfg)
    chat = {"model": "to-claude-x", "messages": [{"role": "user", "content": "hi"}]}
    for body in (chat, {**chat, "stream": True}):
        r = httpx.post(d.url + "/v1/chat/completions", json=body, trust_env=False, timeout=30)
        assert r.status_code == 200, r.text
    assert _post(d, "passthrough").status_code == 200
    fake.queue(Reply(events=[b"event: ping\ndata: {}\n\n"], reset_after=1))
    _post(d, "reset", headers={"accept": "text/event-stream"})
    d.stop()
    store = FlowStore(d.state_dir / "flows.db", max_flows=100, max_bytes=10**9, readonly=True)
    store.open()
    try:
        flows = list(store)
        assert len(flows) == 4
        assert any(f.metadata.get("ccproxy.client_response") for f in flows)  # a converted one
        for flow, raw in zip(flows, store.raw_records(), strict=True):
            state = mitm_compat.flow_state(flow)
            assert state == flow.get_state() and list(state) == list(flow.get_state())
            assert tnetstring.loads(tnetstring.dumps(state)) == tnetstring.loads(raw)  # what is stored
    finally:
        store.close()
