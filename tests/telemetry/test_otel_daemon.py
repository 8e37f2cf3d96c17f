"""Spans from SDK traffic through the real daemon, received by a real OTLP/HTTP receiver on
loopback (decoded with opentelemetry-proto): plain, streamed, converted, failed; content only
with otel.capture_content."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from ccproxy.lightllm.ir import WIRES
from tests.support.canned import anthropic_events, anthropic_message, openai_chat, openai_chat_events, sse
from tests.support.daemon import DaemonProcess, provider_entry
from tests.support.fake_provider import FakeProvider, Reply

from .otlp_receiver import OtlpReceiver, SpanRecord

pytestmark = pytest.mark.timeout(120)

API_KEY = "sk-ant-otel-secret-0123456789"
CONVERT_MODEL = "claude-via-openai"
USER_ID = "user_abc_account__session_5f0e6c1e-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def fake(shared_fake: FakeProvider) -> FakeProvider:
    return shared_fake


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    r = OtlpReceiver().start()
    yield r
    r.stop()


def _config(fake: FakeProvider, receiver: OtlpReceiver, **otel: Any) -> dict[str, Any]:
    rule = {"match_model": CONVERT_MODEL, "action": "transform", "dest_provider": "openai", "dest_model": "gpt-test"}
    return {
        "ccproxy": {
            "providers": {w: provider_entry(fake.hostport, w) for w in WIRES},
            "hooks": {"inbound": ["ccproxy.hooks.extract_session_id"]},
            "lightllm": {"transforms": [rule]},
            "otel": {"enabled": True, "endpoint": receiver.endpoint, "service_name": "ccproxy-test", **otel},
        }
    }


# The batch processor sends every 50 ms instead of every 5 s: the test waits on the receiver.
BSP_ENV = {"OTEL_BSP_SCHEDULE_DELAY": "50"}


@pytest.fixture(scope="module")
def daemon(
    fake: FakeProvider, receiver: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DaemonProcess]:
    env = {**BSP_ENV, "OTEL_EXPORTER_OTLP_HEADERS": "x-team=blue"}
    d = DaemonProcess(tmp_path_factory.mktemp("otel"), _config(fake, receiver), env=env).start()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def content_daemon(
    fake: FakeProvider, receiver: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DaemonProcess]:
    config = _config(fake, receiver, capture_content=True)
    d = DaemonProcess(tmp_path_factory.mktemp("otel-content"), config, env=BSP_ENV).start()
    yield d
    d.stop()


def client(daemon: DaemonProcess) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=API_KEY, base_url=daemon.url, max_retries=0)


def span_of_last_flow(daemon: DaemonProcess, receiver: OtlpReceiver) -> SpanRecord:
    flow_id = daemon.flows()[-1]["id"]
    return receiver.wait_for(lambda s: s.attributes.get("ccproxy.flow.id") == flow_id)


def children(receiver: OtlpReceiver, span: SpanRecord) -> list[SpanRecord]:
    return [s for s in receiver.spans if s.parent_span_id == span.span_id]


def test_plain_flow_span_has_http_and_genai_attributes(
    daemon: DaemonProcess, fake: FakeProvider, receiver: OtlpReceiver
) -> None:
    answer = anthropic_message()
    fake.queue(Reply(json=answer))
    msg = client(daemon).messages.create(
        model="claude-test",
        max_tokens=32,
        messages=[{"role": "user", "content": "the secret prompt"}],
        metadata={"user_id": USER_ID},
    )
    span = span_of_last_flow(daemon, receiver)
    a = span.attributes
    assert span.name == "chat claude-test"
    assert span.kind == 3  # SPAN_KIND_CLIENT
    assert span.resource["service.name"] == "ccproxy-test"
    assert a["http.request.method"] == "POST"
    assert a["url.path"] == "/v1/messages"
    assert a["http.response.status_code"] == 200
    assert a["server.address"] == "127.0.0.1"
    assert a["gen_ai.provider.name"] == "anthropic"
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.request.model"] == "claude-test"
    assert a["gen_ai.response.model"] == msg.model == answer["model"]
    assert a["gen_ai.usage.input_tokens"] == msg.usage.input_tokens
    assert a["gen_ai.usage.output_tokens"] == msg.usage.output_tokens
    assert a["gen_ai.response.finish_reasons"] == [msg.stop_reason]
    assert a["gen_ai.conversation.id"] == daemon.flows()[-1]["ccproxy"]["session_id"]
    assert a["ccproxy.transformed"] is False
    assert span.status_code == 0  # unset
    assert span.end_ns > span.start_ns
    hooks = children(receiver, span)
    assert [h.name for h in hooks] == ["hook extract_session_id"]
    assert span.start_ns <= hooks[0].start_ns <= hooks[0].end_ns <= span.end_ns
    # no content, no credential
    assert "ccproxy.request.body" not in a and "ccproxy.response.body" not in a
    assert API_KEY not in json.dumps([s.attributes for s in receiver.spans], default=str)
    # OTEL_EXPORTER_OTLP_HEADERS reached the collector
    assert any(h.get("x-team") == "blue" for _, h in receiver.requests)
    assert all(path == "/v1/traces" for path, _ in receiver.requests)


def test_streamed_flow_has_usage_with_cache_tokens_and_time_to_first_token(
    daemon: DaemonProcess, fake: FakeProvider, receiver: OtlpReceiver
) -> None:
    events = anthropic_events()
    start = json.loads(events[0].split(b"data: ", 1)[1])
    start["message"]["usage"].update(cache_read_input_tokens=40, cache_creation_input_tokens=9)
    events[0] = sse("message_start", start)
    fake.queue(Reply(events=events))
    with client(daemon).messages.stream(
        model="claude-test", max_tokens=32, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        final = stream.get_final_message()
    span = span_of_last_flow(daemon, receiver)
    a = span.attributes
    assert a["ccproxy.stream"] is True
    assert a["gen_ai.usage.output_tokens"] == final.usage.output_tokens
    assert a["gen_ai.usage.cache_read.input_tokens"] == final.usage.cache_read_input_tokens == 40
    assert a["gen_ai.usage.cache_creation.input_tokens"] == final.usage.cache_creation_input_tokens == 9
    # our input_tokens counts every prompt token (cached ones included), as the semconv asks
    assert a["gen_ai.usage.input_tokens"] == final.usage.input_tokens + 40 + 9
    assert a["gen_ai.response.finish_reasons"] == ["end_turn"]
    ttft = a["ccproxy.stream.time_to_first_token_s"]
    assert 0 < ttft <= (span.end_ns - span.start_ns) / 1e9
    (first,) = [e for e in span.events if e[0] == "gen_ai.first_token"]
    assert span.start_ns <= first[1] <= span.end_ns


def test_converted_flow_records_both_wires_and_models(
    daemon: DaemonProcess, fake: FakeProvider, receiver: OtlpReceiver
) -> None:
    upstream = openai_chat(model="gpt-test-2025")
    fake.queue(Reply(json=upstream))
    msg = client(daemon).messages.create(
        model=CONVERT_MODEL, max_tokens=32, messages=[{"role": "user", "content": "hi"}]
    )
    assert fake.last().path == "/v1/chat/completions"
    span = span_of_last_flow(daemon, receiver)
    a = span.attributes
    assert a["ccproxy.transformed"] is True
    assert (a["ccproxy.client.wire"], a["ccproxy.upstream.wire"]) == ("anthropic", "openai")
    assert (a["ccproxy.client.model"], a["ccproxy.upstream.model"]) == (CONVERT_MODEL, "gpt-test")
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.model"] == "gpt-test"
    assert a["gen_ai.response.model"] == "gpt-test-2025"
    assert a["gen_ai.usage.input_tokens"] == upstream["usage"]["prompt_tokens"] == msg.usage.input_tokens
    assert a["gen_ai.usage.output_tokens"] == upstream["usage"]["completion_tokens"]
    assert a["gen_ai.response.finish_reasons"] == ["stop"]
    assert span.name == "chat gpt-test"


def test_converted_stream(daemon: DaemonProcess, fake: FakeProvider, receiver: OtlpReceiver) -> None:
    events = openai_chat_events()
    usage = {"prompt_tokens": 21, "completion_tokens": 5, "total_tokens": 26}
    tail = sse(None, {**json.loads(events[-2].split(b"data: ", 1)[1]), "choices": [], "usage": usage})
    events = [*events[:-1], tail, events[-1]]
    fake.queue(Reply(events=events))
    with client(daemon).messages.stream(
        model=CONVERT_MODEL, max_tokens=32, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        final = stream.get_final_message()
    span = span_of_last_flow(daemon, receiver)
    a = span.attributes
    assert a["ccproxy.stream"] is True and a["ccproxy.transformed"] is True
    assert (a["ccproxy.client.wire"], a["ccproxy.upstream.wire"]) == ("anthropic", "openai")
    assert a["gen_ai.usage.input_tokens"] == 21 == final.usage.input_tokens
    assert a["gen_ai.usage.output_tokens"] == 5 == final.usage.output_tokens
    assert a["ccproxy.stream.time_to_first_token_s"] > 0


def test_upstream_error_sets_error_status(daemon: DaemonProcess, fake: FakeProvider, receiver: OtlpReceiver) -> None:
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    fake.queue(Reply(status=529, json=error))
    with pytest.raises(anthropic.APIStatusError):
        client(daemon).messages.create(model="claude-test", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    span = span_of_last_flow(daemon, receiver)
    assert span.status_code == 2  # STATUS_CODE_ERROR
    assert span.attributes["http.response.status_code"] == 529
    assert span.attributes["error.type"] == "529"
    assert "529" in span.status_message


def test_content_only_when_enabled_and_without_credentials(
    content_daemon: DaemonProcess, fake: FakeProvider, receiver: OtlpReceiver
) -> None:
    answer = copy.deepcopy(anthropic_message(text="the recorded answer"))
    fake.queue(Reply(json=answer))
    client(content_daemon).messages.create(
        model="claude-test", max_tokens=32, messages=[{"role": "user", "content": "the secret prompt"}]
    )
    span = span_of_last_flow(content_daemon, receiver)
    assert "the secret prompt" in span.attributes["ccproxy.request.body"]
    assert "the recorded answer" in span.attributes["ccproxy.response.body"]
    assert API_KEY not in json.dumps(span.attributes)


def test_grpc_without_its_exporter_is_a_clear_startup_error(tmp_path: Path, fake: FakeProvider) -> None:
    try:
        import opentelemetry.exporter.otlp.proto.grpc  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("opentelemetry-exporter-otlp-proto-grpc is installed: grpc works here")
    config = {"ccproxy": {"otel": {"enabled": True, "protocol": "grpc"}}}
    d = DaemonProcess(tmp_path, config)
    with pytest.raises(RuntimeError) as e:
        d.start()
    assert "opentelemetry-exporter-otlp-proto-grpc" in str(e.value)
    assert "Traceback" not in str(e.value)
