"""Pure functions: sentinel detection and stripping, credential slots, egress sanitizing."""

from __future__ import annotations

import pytest
from mitmproxy import http
from mitmproxy.test import tutils

from ccproxy.providers.egress import sanitize_request
from ccproxy.providers.redact import mask, redact
from ccproxy.providers.sentinel import SentinelHit, credential_slot, find_sentinel, strip_sentinels

S = "sk-ant-oat-ccproxy-"


def req(path: str = "/v1/messages", **headers: str) -> http.Request:
    r = tutils.treq(path=path.encode())
    for k, v in headers.items():
        r.headers[k.replace("_", "-")] = v
    return r


@pytest.mark.parametrize(
    ("path", "headers", "hit"),
    [
        ("/v1/messages", {"x_api_key": S + "anthropic"}, SentinelHit("anthropic", "x-api-key")),
        ("/v1/chat/completions", {"authorization": f"Bearer {S}my-openai.2"},
         SentinelHit("my-openai.2", "authorization")),
        ("/v1beta/models/g:generateContent", {"x_goog_api_key": S + "gemini"}, SentinelHit("gemini", "x-goog-api-key")),
        (f"/v1beta/models/g:streamGenerateContent?alt=sse&key={S}gemini", {}, SentinelHit("gemini", "?key")),
        ("/openai/deployments/x/chat/completions", {"api_key": S + "azure"}, SentinelHit("azure", "api-key")),
        ("/v1/messages", {"x_api_key": "sk-ant-api03-real"}, None),
        ("/v1/messages?key=abc", {"authorization": "Bearer sk-real"}, None),
    ],
)  # fmt: skip
def test_find_sentinel(path: str, headers: dict[str, str], hit: SentinelHit | None) -> None:
    assert find_sentinel(req(path, **headers)) == hit


def test_the_cheap_check_never_misses_a_sentinel() -> None:
    """may_carry_sentinel (one pass over the raw fields) is False only where the full
    lookups find nothing: every slot, a slot sent as two fields (joined by mitmproxy), a
    query key, and the inject_auth guard built on it."""
    from ccproxy.hooks.inject_auth import carries_sentinel
    from ccproxy.pipeline import Context
    from ccproxy.providers.sentinel import HEADER_SLOTS, may_carry_sentinel

    cases = [req(**{h.replace("-", "_"): f"Bearer {S}p"}) for h in HEADER_SLOTS]
    two = req()
    two.headers.add("x-api-key", "sk-real")
    two.headers.add("x-api-key", S + "p")
    cases += [two, req(f"/v1/x?alt=sse&key={S}p"), req("/v1/x?alt=sse"), req(authorization="Bearer sk-real")]
    cases += [req(x_other=S + "p")]  # the prefix in a header that is no slot: checked in full
    for r in cases:
        full = find_sentinel(r) is not None
        flow = tflow_for(r)
        assert carries_sentinel(Context(flow)) is full
        assert may_carry_sentinel(r) or not full
    assert all(find_sentinel(r) is not None for r in cases[: len(HEADER_SLOTS) + 2])
    assert [may_carry_sentinel(r) for r in cases[-3:]] == [True, False, True]
    assert [find_sentinel(r) is not None for r in cases[-3:]] == [False, False, False]


def tflow_for(r: http.Request) -> http.HTTPFlow:
    from mitmproxy.test import tflow

    f = tflow.tflow()
    f.request = r
    return f


def test_strip_sentinels_removes_every_slot_and_keeps_the_rest() -> None:
    r = req(f"/x?alt=sse&key={S}g", x_api_key=S + "a", authorization="Bearer " + S + "a", accept="*/*")
    assert strip_sentinels(r) == ["x-api-key", "authorization", "?key"]
    assert r.path == "/x?alt=sse" and "x-api-key" not in r.headers and r.headers["accept"] == "*/*"


@pytest.mark.parametrize(
    ("wire", "header", "auth_type", "slot"),
    [
        ("anthropic", None, "command", ("x-api-key", "")),
        ("anthropic", None, "anthropic_oauth", ("authorization", "Bearer ")),
        ("anthropic", "authorization", "command", ("authorization", "Bearer ")),
        ("anthropic", "X-Api-Key", "anthropic_oauth", ("x-api-key", "")),
        ("openai", None, "file", ("authorization", "Bearer ")),
        ("openai_responses", None, "codex_oauth", ("authorization", "Bearer ")),
        ("gemini", None, "command", ("x-goog-api-key", "")),
        ("gemini", None, "google_oauth", ("authorization", "Bearer ")),
        ("openai", "api-key", "command", ("api-key", "")),
    ],
)
def test_credential_slot(wire: str, header: str | None, auth_type: str, slot: tuple[str, str]) -> None:
    assert credential_slot(wire, header, auth_type) == slot  # type: ignore[arg-type]


def test_sanitize_request() -> None:
    r = req(
        f"/v1/messages?a=1&trace={S}x&b=2",
        x_ccproxy_hooks="+shape",
        X_CCProxy_Debug="1",
        x_other=f"prefix {S}x suffix",
        x_api_key="real",
    )
    removed = sanitize_request(r)
    assert removed == ["x-ccproxy-hooks", "x-ccproxy-debug", "x-other", "?trace"]
    assert r.path == "/v1/messages?a=1&b=2"
    assert r.headers["x-api-key"] == "real"
    assert sanitize_request(r) == []


def test_redact_and_mask() -> None:
    assert redact("token abcdefgh12 and abcdefgh123", ["abcdefgh12", "abcdefgh123", "short"]) == (
        "token <redacted> and <redacted>"
    )
    assert redact("short word", ["short"]) == "short word"
    assert mask("sk-ant-oat01-abcdefghijklmnop") == "sk-a...op (29 chars)"
