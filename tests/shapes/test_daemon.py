"""Shapes through the real daemon: capture -> `shapes save` -> another client's request
gets the shape's envelope with its own content; opt-out, same family, audit, packaged."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from mitmproxy import io

from ccproxy.shapes.capture import flow_from_json
from ccproxy.shapes.sanitize import sanitize_request
from ccproxy.shapes.store import PACKAGED_DIR, write_shape_file
from tests.conftest import all_wires_providers
from tests.support.daemon import DaemonProcess
from tests.support.fake_provider import FakeProvider

CLIENT_KEY = "sk-ant-api03-SOURCECLIENTSECRET0123456789"
USER_ID = "user_0123abcd_account_5f1e_session_77aa"
SOURCE_UA = "shape-source/1.4 (test)"


def shaping_config(fake: FakeProvider, **shaping: Any) -> dict[str, Any]:
    return {
        "ccproxy": {
            "providers": all_wires_providers(fake),
            "hooks": {"outbound": ["ccproxy.hooks.verbose_mode", "ccproxy.hooks.shape"]},
            "shaping": {"reload_seconds": 0, **shaping},
        }
    }


def post(daemon: DaemonProcess, path: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    r = httpx.post(daemon.url + path, json=body, headers=headers, timeout=30, trust_env=False)
    r.raise_for_status()
    return r


def send_source(daemon: DaemonProcess) -> None:
    """The request of the client whose envelope becomes the shape."""
    post(
        daemon,
        "/v1/messages",
        {
            "model": "claude-source",
            "max_tokens": 4096,
            "system": "shape system",
            "service_tier": "standard_only",
            "metadata": {"user_id": USER_ID},
            "messages": [{"role": "user", "content": "source content"}],
        },
        {
            "x-api-key": CLIENT_KEY,
            "user-agent": SOURCE_UA,
            "x-source-only": "1",
            "anthropic-beta": "source-beta",
            "anthropic-version": "2023-06-01",
        },
    )


OTHER = {
    "model": "claude-other",
    "max_tokens": 50,
    "system": "other system",
    "messages": [{"role": "user", "content": "new content"}],
}
OTHER_HEADERS = {
    "x-api-key": "sk-ant-other-client-key-000000000",
    "user-agent": "other-tool/0.1",
    "x-other-only": "1",
    "anthropic-version": "2023-06-01",
}


@pytest.fixture
def shaped(fake: FakeProvider, start_daemon: Callable[..., DaemonProcess]) -> DaemonProcess:
    config = shaping_config(
        fake,
        packaged=False,
        providers={
            "anthropic": {
                "merge_strategies": {"system": "prepend_shape"},
                "preserve_headers": ["x-other-only"],
                "fresh": {"headers.x-request-id": "request_id", "body.metadata.session": "session_uuid"},
            }
        },
    )
    daemon = start_daemon(config)
    send_source(daemon)
    saved = daemon.cli("shapes", "save", "anthropic")
    assert saved.returncode == 0, saved.stderr
    return daemon


def test_capture_save_apply(shaped: DaemonProcess, fake: FakeProvider) -> None:
    path = shaped.config_dir / "shapes" / "anthropic.mflow"
    raw = path.read_bytes()
    assert CLIENT_KEY.encode() not in raw and USER_ID.encode() not in raw
    assert path.stat().st_mode & 0o777 == 0o600

    post(shaped, "/v1/messages", OTHER, OTHER_HEADERS)
    got = fake.last()
    headers = {k.lower(): v for k, v in got.headers.items()}
    # the shape's envelope ...
    assert headers["user-agent"] == SOURCE_UA
    assert headers["x-source-only"] == "1" and headers["anthropic-beta"] == "source-beta"
    # ... this request's own credential and preserved header, nothing else of its own
    assert headers["x-api-key"] == OTHER_HEADERS["x-api-key"]
    assert headers["x-other-only"] == "1"
    assert headers["x-request-id"].startswith("req_")
    body = got.json
    assert body["messages"] == OTHER["messages"] and body["model"] == "claude-other" and body["max_tokens"] == 50
    assert body["system"] == "shape system\n\nother system"  # prepend_shape
    assert body["service_tier"] == "standard_only"  # from the shape: not a content field
    assert set(body["metadata"]) == {"session"}  # user_id was removed at save; a fresh session id
    first_request_id = headers["x-request-id"]

    post(shaped, "/v1/messages", OTHER, OTHER_HEADERS)
    assert {k.lower(): v for k, v in fake.last().headers.items()}["x-request-id"] != first_request_id

    (flow,) = [f for f in shaped.flows(bodies="1") if (f["ccproxy"] or {}).get("shape")][-1:]
    assert flow["ccproxy"]["shape"]["shape"] == "local:anthropic.mflow"
    compared = shaped.cli("flows", "compare", "--jq", f'map(select(.id == "{flow["id"]}"))')
    assert compared.returncode == 0, compared.stderr
    assert "shape local:anthropic.mflow applied" in compared.stdout
    assert "+ x-source-only: 1" in compared.stdout and "- x-other-only" not in compared.stdout


def test_opt_out_and_same_family_keep_their_own_envelope(shaped: DaemonProcess, fake: FakeProvider) -> None:
    post(shaped, "/v1/messages", OTHER, {**OTHER_HEADERS, "x-ccproxy-hooks": "-shape"})
    assert "x-source-only" not in {k.lower() for k in fake.last().headers}
    assert fake.last().json["system"] == "other system"

    post(shaped, "/v1/messages", OTHER, {**OTHER_HEADERS, "user-agent": "shape-source/2.0"})
    assert "x-source-only" not in {k.lower() for k in fake.last().headers}


def test_token_counts_are_not_shaped(shaped: DaemonProcess, fake: FakeProvider) -> None:
    post(shaped, "/v1/messages/count_tokens", {"model": "m", "messages": OTHER["messages"]}, OTHER_HEADERS)
    assert fake.last().path.startswith("/v1/messages/count_tokens")
    assert "x-source-only" not in {k.lower() for k in fake.last().headers}


def test_save_without_a_candidate_is_one_line(fake: FakeProvider, start_daemon: Callable[..., DaemonProcess]) -> None:
    daemon = start_daemon(shaping_config(fake))
    done = daemon.cli("shapes", "save", "gemini")
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "no captured flow can become the shape of 'gemini'" in done.stderr
    unknown = daemon.cli("shapes", "save", "nope")
    assert unknown.returncode == 1 and "unknown provider 'nope'" in unknown.stderr


def test_save_mflow_writes_one_request_only_flow(shaped: DaemonProcess) -> None:
    path = shaped.config_dir / "shapes" / "anthropic.mflow"
    send_source(shaped)
    assert shaped.cli("shapes", "save", "anthropic").returncode == 0
    with path.open("rb") as f:
        history = list(io.FlowReader(f).stream())
    assert len(history) == 2 and all(fl.response is not None for fl in history)
    assert shaped.cli("shapes", "save", "anthropic", "--mflow").returncode == 0
    with path.open("rb") as f:
        (only,) = list(io.FlowReader(f).stream())
    assert only.response is None


def test_audit_catches_a_planted_secret(shaped: DaemonProcess) -> None:
    ok = shaped.cli("shapes", "audit", "--directory", str(shaped.config_dir / "shapes"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (flow,) = [f for f in shaped.flows(bodies="1") if f["request"]["path"] == "/v1/messages"][:1]
    planted = flow_from_json(flow, with_response=False)
    planted.request.headers["x-api-key"] = "sk-ant-api03-PLANTEDSECRET000000000000"
    planted.request.set_content(json.dumps({"model": "m", "messages": [], "note": "AIza" + "x" * 35}).encode())
    write_shape_file(shaped.config_dir / "shapes" / "anthropic.mflow", [planted], append=True)
    bad = shaped.cli("shapes", "audit", "--directory", str(shaped.config_dir / "shapes"))
    assert bad.returncode == 1
    assert "secret left in headers.x-api-key" in bad.stdout and "secret left in body.note" in bad.stdout
    # a shape in force with a readable file: the daemon keeps serving
    post(shaped, "/v1/messages", OTHER, OTHER_HEADERS)


def test_audit_flags_unknown_provider_and_missing_content(shaped: DaemonProcess, tmp_path: Path) -> None:
    (flow,) = [f for f in shaped.flows(bodies="1") if f["request"]["path"] == "/v1/messages"][:1]
    empty = flow_from_json(flow, with_response=False)
    empty.request = sanitize_request(empty.request)
    empty.request.set_content(b'{"model": "m"}')
    write_shape_file(tmp_path / "anthropic.mflow", [empty], append=False)
    write_shape_file(tmp_path / "stranger.mflow", [empty], append=False)
    (tmp_path / "broken.mflow").write_bytes(b"not a flow file")
    done = shaped.cli("shapes", "audit", "--directory", str(tmp_path), "--json")
    assert done.returncode == 1
    report = {Path(r["path"]).name: r for r in json.loads(done.stdout)}
    assert report["anthropic.mflow"]["problems"] == ["content fields missing from the body: messages"]
    assert any("unknown provider 'stranger'" in p for p in report["stranger.mflow"]["problems"])
    assert "not a readable mitmproxy flow file" in report["broken.mflow"]["problems"][0]


def test_packaged_shapes_apply_when_no_local_one(
    fake: FakeProvider, start_daemon: Callable[..., DaemonProcess]
) -> None:
    daemon = start_daemon(shaping_config(fake))
    post(
        daemon,
        "/v1/chat/completions",
        {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}]},
        {"authorization": "Bearer sk-proj-own-key-0000000000000000", "user-agent": "curl/8.0"},
    )
    headers = {k.lower(): v for k, v in fake.last().headers.items()}
    assert headers["user-agent"].startswith("OpenAI/Python ") and headers["x-stainless-lang"] == "python"
    assert headers["authorization"] == "Bearer sk-proj-own-key-0000000000000000"
    assert fake.last().json == {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}]}
    listed = daemon.cli("shapes", "list", "--json")
    rows = {r["provider"]: r for r in json.loads(listed.stdout)}
    assert rows["openai"]["source"] == "packaged" and rows["openai"]["client"] == "openai"


def test_packaged_shapes_audit_clean(tmp_path: Path) -> None:
    done = DaemonProcess(tmp_path, {"ccproxy": {}}).cli("shapes", "audit", "--directory", str(PACKAGED_DIR))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("ok ") == 4


def test_shaping_disabled_keeps_requests_as_sent(
    fake: FakeProvider, start_daemon: Callable[..., DaemonProcess]
) -> None:
    config = shaping_config(fake)
    config["ccproxy"]["shaping"]["enabled"] = False
    daemon = start_daemon(config)
    post(daemon, "/v1/chat/completions", {"model": "gpt-x", "messages": []}, {"user-agent": "curl/8.0"})
    assert "x-stainless-lang" not in {k.lower() for k in fake.last().headers}
