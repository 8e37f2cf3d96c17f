"""`serialize.summary_and_detail`: the store's two JSON texts of a flow, written in one pass, are
exactly `json.dumps` of the flow without and with bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flowkit import make_flow
from mitmproxy import http
from storekit import quick_flow

from ccproxy.flows import meta
from ccproxy.flows.serialize import flow_json, summary_and_detail, without_bodies

# Large enough that the texts are spliced (serialize._SPLICE_FROM), not dumped whole.
PROMPT = {"model": "m", "messages": [{"role": "user", "content": 'say "hi" \\ twice\n\t' * 1000}]}
BIG_UNICODE = '{"text": "héllo ☃ 🙂 \u2028 \x00"}' * 1000


def _flows() -> list[http.HTTPFlow]:
    binary = quick_flow(response_body=bytes(range(256)))
    unicode = quick_flow(request_body='{"text": "héllo ☃ 🙂 \u2028 \x00 \\ \\"q\\""}'.encode())
    pending = quick_flow()
    pending.response = None
    return [
        quick_flow(),
        quick_flow(request_body=json.dumps(PROMPT).encode()),  # ASCII with quotes, escapes, control chars
        binary,  # base64
        unicode,
        pending,  # no response yet
        make_flow(body=PROMPT, client_body={"model": "client-m"}, client_response_body={"converted": "ü"}),
        make_flow(body=PROMPT, status=None, error="connection refused", meta={"session_id": "s-1"}),
        make_flow(body=b"", response_body=b"", headers={"x-dup": "a"}),
        quick_flow(request_body=BIG_UNICODE.encode(), response_body=BIG_UNICODE.encode()),
        quick_flow(request_body=json.dumps(PROMPT).encode(), response_body=bytes(range(256)) * 100),
    ]


@pytest.mark.parametrize("flow", _flows(), ids=lambda f: f.id[:8])
def test_texts_equal_json_dumps_of_the_documents(flow: http.HTTPFlow) -> None:
    full: dict[str, Any] = flow_json(flow, bodies=True, client=meta.client_request(flow))
    summary, detail = summary_and_detail(full)
    assert summary == json.dumps(without_bodies(full), ensure_ascii=False)
    assert detail == json.dumps(full, ensure_ascii=False)
    assert json.loads(detail) == full


def test_a_document_of_another_shape_is_encoded_as_it_is() -> None:
    odd = {"id": "x", "request": {"body": "b" * 20_000, "other": 1}, "response": None, "error": ["e"]}
    summary, detail = summary_and_detail(odd)
    assert detail == json.dumps(odd, ensure_ascii=False) == summary  # no body fields where expected: left alone


def test_most_of_these_flows_are_spliced() -> None:
    from ccproxy.flows.serialize import _SPLICE_FROM, MESSAGE_KEYS

    def body_chars(flow: http.HTTPFlow) -> int:
        doc = flow_json(flow, bodies=True)
        return sum(len(doc[k]["body"] or "") for k in MESSAGE_KEYS if doc.get(k))

    assert sum(body_chars(f) >= _SPLICE_FROM for f in _flows()) >= 5
