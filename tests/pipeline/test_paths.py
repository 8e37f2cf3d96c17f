from __future__ import annotations

import pytest

from ccproxy.pipeline import paths


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("request.model", "request.body.model"),
        ("model", "request.body.model"),
        ("messages", "request.body.messages"),
        ("messages.0.content", "request.body.messages.0.content"),
        ("system", "request.body.system"),
        ("tools", "request.body.tools"),
        ("provider", "metadata.provider"),
        ("session_id", "metadata.session_id"),
        ("request.headers.Anthropic-Beta", "request.headers.anthropic-beta"),
        ("response.headers.Content-Type", "response.headers.content-type"),
        ("request.path", "request.path"),
        ("request.body.metadata.user_id", "request.body.metadata.user_id"),
        ("metadata.session_id", "metadata.session_id"),
        ("response.body.content.0.text", "response.body.content.0.text"),
    ],
)
def test_canonical(given: str, canonical: str) -> None:
    assert paths.canonical(given) == canonical


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("request.bodyx", "unknown path 'request.bodyx'"),
        ("headers.x", "unknown path 'headers.x'"),
        ("request.path.x", "unknown path 'request.path.x'"),
        ("request..body", "invalid path"),
        ("", "invalid path"),
    ],
)
def test_canonical_rejects(given: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        paths.canonical(given)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("request.body", "request.body.model", True),
        ("request.body.model", "request.body.model", True),
        ("request.body.messages", "request.body.messages.0.content", True),
        ("request.body.model", "request.body.models", False),
        ("request.body.model", "request.body.messages", False),
        ("request.headers", "request.headers.anthropic-beta", True),
        ("request.headers.x-a", "request.headers.x-b", False),
        ("metadata.session_id", "metadata", True),
        ("request.body", "response.body", False),
    ],
)
def test_overlaps(a: str, b: str, expected: bool) -> None:
    assert paths.overlaps(a, b) is expected
    assert paths.overlaps(b, a) is expected
