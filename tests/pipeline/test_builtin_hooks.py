"""verbose_mode and extract_session_id, run through a real Pipeline on real flows."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from mitmproxy import http

from ccproxy.hooks.extract_session_id import session_id_from_user_id
from ccproxy.hooks.verbose_mode import strip_redact_betas
from ccproxy.pipeline import Pipeline

FlowFactory = Callable[..., http.HTTPFlow]


@pytest.mark.parametrize(
    ("beta", "expected"),
    [
        ("redact-thinking-2025-02-19", None),
        ("a-2025,redact-thinking-2025-02-19", "a-2025"),
        (
            "oauth-2025-04-20, redact-thinking-2025-02-19 ,interleaved-thinking-2025-05-14",
            "oauth-2025-04-20,interleaved-thinking-2025-05-14",
        ),
        ("interleaved-thinking-2025-05-14", "interleaved-thinking-2025-05-14"),
        ("Redact-Thinking-X,b", "b"),
    ],
)
async def test_verbose_mode(flow_factory: FlowFactory, beta: str, expected: str | None) -> None:
    p = Pipeline.from_config("outbound", ["ccproxy.hooks.verbose_mode"])
    flow = flow_factory({"model": "m"}, headers={"anthropic-beta": beta})
    await p.run(flow)
    assert flow.request.headers.get("anthropic-beta") == expected


def test_strip_redact_betas_pure() -> None:
    assert strip_redact_betas("") == ""
    assert strip_redact_betas(" x , ,redact-thinking-1") == "x"


async def test_verbose_mode_leaves_other_flows_alone(flow_factory: FlowFactory) -> None:
    p = Pipeline.from_config("outbound", ["ccproxy.hooks.verbose_mode"])
    flow = flow_factory({"model": "m"})
    await p.run(flow)
    assert "anthropic-beta" not in flow.request.headers


SID = "6c3d2a9e-1f4b-4a8e-9c2d-5e7f8a9b0c1d"


@pytest.mark.parametrize(
    ("user_id", "expected"),
    [
        (json.dumps({"device_id": "d" * 64, "account_uuid": "acc", "session_id": SID}), SID),
        (f"user_{'ab' * 32}_account_0f1e2d3c-aaaa-bbbb-cccc-123456789abc_session_{SID}", SID),
        ("plain-client-id", "plain-client-id"),
        (json.dumps({"device_id": "d"}), None),
        ("{not json", "{not json"),
        ("   ", None),
    ],
)
def test_session_id_from_user_id(user_id: str, expected: str | None) -> None:
    assert session_id_from_user_id(user_id) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"metadata": {"user_id": json.dumps({"session_id": SID})}, "messages": []}, SID),
        ({"metadata": {"user_id": f"user_x_account_y_session_{SID}"}}, SID),
        ({"metadata": {"user_id": 42}}, None),
        ({"messages": []}, None),
        (None, None),
    ],
)
async def test_extract_session_id_on_flow(flow_factory: FlowFactory, body: object, expected: str | None) -> None:
    p = Pipeline.from_config("inbound", ["ccproxy.hooks.extract_session_id"])
    flow = flow_factory(body)
    raw = flow.request.content
    await p.run(flow)
    assert flow.metadata.get("ccproxy.session_id") == expected
    assert flow.request.content == raw  # reading never re-serialises the body


@pytest.mark.parametrize(
    ("method", "content_type", "parsed"),
    [
        ("POST", "application/json", True),
        ("POST", None, True),
        ("POST", "multipart/form-data", False),
        ("GET", None, False),
    ],
)
async def test_extract_session_id_guard(
    flow_factory: FlowFactory, method: str, content_type: str | None, parsed: bool
) -> None:
    p = Pipeline.from_config("inbound", ["ccproxy.hooks.extract_session_id"])
    flow = flow_factory({"metadata": {"user_id": "abc"}}, method=method)
    if content_type is None:
        del flow.request.headers["content-type"]
    else:
        flow.request.headers["content-type"] = content_type
    await p.run(flow)
    assert (flow.metadata.get("ccproxy.session_id") == "abc") is parsed
