"""The indexed columns' session lookup against mitmproxy's own header lookup as the oracle."""

from __future__ import annotations

import pytest
from mitmproxy import http
from storekit import quick_flow

from ccproxy.flows.columns import flow_columns
from ccproxy.flows.conversations import SESSION_HEADERS


def _oracle(*requests: http.Request) -> str | None:
    for req in requests:
        for name in SESSION_HEADERS:
            value = req.headers.get(name)
            if value:
                return value
    return None


@pytest.mark.parametrize(
    "fields",
    [
        [],
        [(b"Session-Id", b"abc")],
        [(b"conversation_id", b"late"), (b"X-Session-Id", b"early")],  # precedence is the list's, not the order sent
        [(b"session-id", b"a"), (b"SESSION-ID", b"b")],  # repeated: joined as Headers.get joins them
        [(b"session-id", b""), (b"session_id", b"next")],  # an empty value does not count
        [(b"x-session-id", "s\u00e9ance".encode())],
        [(b"x-session-id", b"\xff\xfe")],  # not UTF-8: surrogateescape, as mitmproxy decodes it
    ],
)
def test_conversation_key_from_session_headers_matches_headers_get(fields: list[tuple[bytes, bytes]]) -> None:
    flow = quick_flow(request_body=b"{}")
    flow.request.headers = http.Headers(fields)
    assert flow_columns(flow).conversation_key == _oracle(flow.request)
