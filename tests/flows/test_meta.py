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
