"""apply_destination against what mitmproxy's own setters make of the same request: it writes host,
port, Host and :authority once instead of through the setters, and must leave the same request."""

from __future__ import annotations

from typing import Any

import pytest
from mitmproxy import http

from ccproxy.config.models import Provider
from ccproxy.providers.destination import apply_destination


def _through_setters(request: http.Request, provider: Provider, path: str | None) -> None:
    """The request as the setters leave it (what apply_destination did before it wrote the fields)."""
    request.scheme = provider.scheme
    request.host = provider.hostname
    request.port = provider.port
    if path is not None:
        request.path = path
    default_port = 443 if provider.scheme == "https" else 80
    authority = provider.hostname if provider.port == default_port else f"{provider.hostname}:{provider.port}"
    if request.http_version.startswith("HTTP/2") or request.http_version.startswith("HTTP/3"):
        request.authority = authority
        request.headers.pop("host", None)
    else:
        request.headers["host"] = authority


def _request(version: str, authority: str, headers: tuple[tuple[bytes, bytes], ...]) -> http.Request:
    fields = ((b"content-type", b"application/json"), *headers, (b"x-after", b"1"))
    return http.Request(
        "127.0.0.1", 4000, b"POST", b"http", authority.encode(), b"/v1/messages", version.encode(),
        fields, b"{}", None, 0.0, 0.0,
    )  # fmt: skip


PROVIDERS: list[dict[str, Any]] = [
    {"type": "anthropic", "host": "api.anthropic.com"},
    {"type": "openai", "host": "127.0.0.1:8080", "scheme": "http"},
    {"type": "openai", "host": "example.test:443", "scheme": "https"},
    {"type": "gemini", "host": "example.test:80", "scheme": "https"},
]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    "version,authority,headers",
    [
        ("HTTP/1.1", "", ((b"Host", b"127.0.0.1:4000"),)),  # reverse listener: Host, no authority
        ("HTTP/1.1", "", ()),  # no Host header at all
        ("HTTP/1.1", "127.0.0.1:4000", ((b"host", b"127.0.0.1:4000"),)),  # absolute-form request line
        ("HTTP/1.0", "", ((b"HOST", b"a"), (b"host", b"b"))),  # a repeated Host
        ("HTTP/2.0", "127.0.0.1:4000", ()),
        ("HTTP/2.0", "", ((b"host", b"127.0.0.1:4000"),)),
        ("HTTP/3", "127.0.0.1:4000", ((b"host", b"x"),)),
    ],
)
@pytest.mark.parametrize("path", [None, "/anthropic/v1/messages"])
def test_apply_destination_is_the_setters(
    provider: dict[str, Any], version: str, authority: str, headers: tuple[tuple[bytes, bytes], ...], path: str | None
) -> None:
    p = Provider.model_validate(provider)
    fast, slow = _request(version, authority, headers), _request(version, authority, headers)
    apply_destination(fast, p, path)
    _through_setters(slow, p, path)
    assert fast.get_state() == slow.get_state()
    assert fast.pretty_url == slow.pretty_url
