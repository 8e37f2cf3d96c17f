from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_oauth import FakeOAuth


@pytest.fixture
def oauth() -> Iterator[FakeOAuth]:
    server = FakeOAuth().start()
    yield server
    server.stop()


def claude_creds(access: str = "old-access", *, expires_in: float = -10, ms: bool = True) -> dict[str, Any]:
    """Claude Code's file layout, with siblings ccproxy must keep."""
    expiry = time.time() + expires_in
    return {
        "claudeAiOauth": {
            "accessToken": access,
            "refreshToken": "refresh-0",
            "expiresAt": int(expiry * 1000) if ms else int(expiry),
            "scopes": ["user:inference", "user:profile"],
            "subscriptionType": "max",
        },
        "otherTool": {"keep": True},
    }


def write_creds(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data))
    path.chmod(0o644)
    return path
