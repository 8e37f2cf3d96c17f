"""flows.meta readers of the client-request snapshot, against the full decode as the oracle."""

from __future__ import annotations

import pytest
from mitmproxy import http
from mitmproxy.test import tflow

from ccproxy.flows import meta


@pytest.mark.parametrize(
    ("method", "url", "headers"),
    [
        ("post", "http://127.0.0.1:4000/v1/messages?beta=true", {"x-api-key": "k", "anthropic-version": "1"}),
        ("GET", "http://127.0.0.1:4000/v1/models", {"a": "1", "A": "2"}),  # repeated header names kept
        ("POST", "http://127.0.0.1:4000/v1beta/models/g%C3%A9m:generateContent", {}),
    ],
)
def test_client_request_line_matches_the_decoded_snapshot(method: str, url: str, headers: dict[str, str]) -> None:
    req = http.Request.make(method, url, b'{"model":"m"}', headers)
    flow = tflow.tflow(req=req.copy())
    flow.metadata[meta.CLIENT_REQUEST] = req.get_state()
    flow.request.path, flow.request.method = "/rewritten", "PUT"  # later hooks change the live request
    snap = meta.client_request(flow)
    assert snap is not None
    got_method, got_path, got_headers = meta.client_request_line(flow)
    assert (got_method, got_path, got_headers.fields) == (snap.method, snap.path, snap.headers.fields)


def test_client_request_line_without_a_snapshot_is_the_live_request() -> None:
    flow = tflow.tflow()
    assert meta.client_request_line(flow) == (flow.request.method, flow.request.path, flow.request.headers)


@pytest.mark.parametrize(
    ("headers", "encoding"),
    [
        ({"content-type": "application/json"}, None),
        ({"Content-Encoding": "gzip"}, "gzip"),  # decoded, as Request.content decodes it
        ({"content-encoding": "br"}, "br"),
        ({"content-encoding": ""}, None),  # an empty coding: the body as sent
    ],
)
def test_client_request_content_is_the_decoded_snapshot_body(headers: dict[str, str], encoding: str | None) -> None:
    req = http.Request.make("POST", "http://127.0.0.1:4000/v1/messages", b"", headers)
    if encoding is not None:
        req.headers["content-encoding"] = encoding
    req.content = b'{"model": "m", "messages": []}'  # encoded with the request's coding
    flow = tflow.tflow(req=req.copy())
    flow.metadata[meta.CLIENT_REQUEST] = req.get_state()
    flow.request.content = b"rewritten by a hook"
    snap = meta.client_request(flow)
    assert snap is not None
    assert meta.client_request_content(flow) == snap.content == b'{"model": "m", "messages": []}'


def test_client_request_content_without_a_snapshot_is_the_live_body() -> None:
    flow = tflow.tflow()
    assert meta.client_request_content(flow) == flow.request.content
