"""The local access policy (pure): Host, Origin and token decisions, and the token file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ccproxy.access.local import LocalAccess, normalize_origin
from ccproxy.access.token import create_token, read_token

TOKEN = "t0k3n-for-tests"
LOOP = LocalAccess.build("127.0.0.1", TOKEN, ["http://localhost:3000"])
WILD = LocalAccess.build("0.0.0.0", TOKEN)


@pytest.mark.parametrize(
    ("policy", "host", "ok"),
    [
        (LOOP, "127.0.0.1:4000", True),
        (LOOP, "localhost:4000", True),
        (LOOP, "LOCALHOST:4000", True),
        (LOOP, "[::1]:4000", True),
        (LOOP, "127.0.0.2:4000", True),
        (LOOP, "127.0.0.1", False),  # port 80 implied: not the listener's
        (LOOP, "127.0.0.1:4001", False),
        (LOOP, "evil.example.com:4000", False),  # DNS rebinding: the page's own name
        (LOOP, "evil.example.com", False),
        (LOOP, "192.168.1.5:4000", False),
        (LOOP, "", False),
        (LOOP, None, False),
        (WILD, "192.168.1.5:4000", True),  # an address literal on a wildcard bind
        (WILD, "evil.example.com:4000", False),  # never a name
        (LocalAccess.build("10.0.0.7", TOKEN), "10.0.0.7:4000", True),
        (LocalAccess.build("10.0.0.7", TOKEN), "10.0.0.8:4000", False),
    ],
)
def test_host(policy: LocalAccess, host: str | None, ok: bool) -> None:
    assert policy.host_ok(host, 4000) is ok


@pytest.mark.parametrize(
    ("origin", "ok"),
    [
        (None, True),  # no browser involved (SDKs, curl)
        ("http://127.0.0.1:4000", True),  # ccproxy's own pages (/ui)
        ("http://localhost:4000", True),
        ("http://localhost:3000", True),  # listed in allow_origins
        ("http://LOCALHOST:3000/", True),
        ("http://localhost:3001", False),  # another local server's page
        ("https://evil.example", False),
        ("http://evil.example:4000", False),  # a rebinding page's origin
        ("null", False),  # sandboxed frames, file: pages
        ("", False),
    ],
)
def test_origin(origin: str | None, ok: bool) -> None:
    assert LOOP.origin_ok(origin, 4000) is ok
    refusal = LOOP.check_origin({} if origin is None else {"origin": origin}, 4000)
    assert (refusal is None) is ok
    if refusal is not None:
        assert refusal.status == 403 and "inspector.allow_origins" in refusal.message


@pytest.mark.parametrize("name", ["origin", "Origin", "ORIGIN"])
def test_origin_header_found_in_any_case(name: str) -> None:
    """A plain dict is scanned case-insensitively; mitmproxy's Headers (and starlette's) are
    case-insensitive themselves, so a miss there is a miss without decoding every field."""
    from mitmproxy import http

    for headers in ({name: "https://evil.example"}, http.Headers(((name.encode(), b"https://evil.example"),))):
        refusal = LOOP.check_origin(headers, 4000)
        assert refusal is not None and refusal.status == 403, type(headers)
    assert LOOP.check_origin(http.Headers(host="127.0.0.1:4000", user_agent="sdk"), 4000) is None


@pytest.mark.parametrize(
    ("headers", "sensitive", "status"),
    [
        ({"host": "127.0.0.1:4000"}, False, None),
        ({"host": "127.0.0.1:4000"}, True, 401),
        ({"host": "127.0.0.1:4000", "x-ccproxy-token": TOKEN}, True, None),
        ({"host": "127.0.0.1:4000", "authorization": f"Bearer {TOKEN}"}, True, None),
        ({"host": "127.0.0.1:4000", "x-ccproxy-token": TOKEN + "x"}, True, 401),
        ({"host": "127.0.0.1:4000", "authorization": TOKEN}, True, 401),
        ({"host": "evil.example:4000", "x-ccproxy-token": TOKEN}, True, 403),
        ({"host": "127.0.0.1:4000", "origin": "https://evil.example", "x-ccproxy-token": TOKEN}, True, 403),
    ],
)
def test_control(headers: dict[str, str], sensitive: bool, status: int | None) -> None:
    refusal = LOOP.check_control(headers, 4000, sensitive=sensitive)
    assert (refusal.status if refusal else None) == status


def test_non_loopback_bind_needs_the_token_everywhere() -> None:
    assert not WILD.loopback_only and LOOP.loopback_only
    refusal = WILD.check_control({"host": "127.0.0.1:4000"}, 4000, sensitive=False)
    assert refusal is not None and refusal.status == 401 and "non-loopback bind" in refusal.message
    assert WILD.check_control({"host": "127.0.0.1:4000", "x-ccproxy-token": TOKEN}, 4000, sensitive=False) is None


@pytest.mark.parametrize(
    ("origin", "normal"),
    [
        ("HTTP://Example.COM:80/", "http://example.com"),
        ("https://example.com:443", "https://example.com"),
        ("https://example.com:8443", "https://example.com:8443"),
        ("http://[::1]:3000", "http://[::1]:3000"),
    ],
)
def test_normalize_origin(origin: str, normal: str) -> None:
    assert normalize_origin(origin) == normal


@pytest.mark.parametrize("bad", ["example.com", "http://example.com/app", "null", "http://u@example.com"])
def test_normalize_origin_refuses(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid origin"):
        normalize_origin(bad)


def test_token_file(tmp_path: Path) -> None:
    first = create_token(tmp_path)
    path = tmp_path / "control.token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_token(tmp_path) == first and len(first) >= 32
    path.chmod(0o644)
    second = create_token(tmp_path)  # a fresh token per start, and the mode is restored
    assert second != first and read_token(tmp_path) == second
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["control.token"]  # no temp file left
    assert read_token(tmp_path / "missing") is None
