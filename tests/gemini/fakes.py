"""A loopback Code Assist server (cloudcode-pa's v1internal API) on top of the fake provider."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.support.canned import gemini_events, gemini_response
from tests.support.fake_provider import FakeProvider, Recorded, Reply

CODE_ASSIST_HOST = "cloudcode-pa.googleapis.com"
PROJECT = "proj-fake-123"
SENTINEL = "sk-ant-oat-ccproxy-gemini"
ACCESS_TOKEN = "ya29.fake-access-token"


def wrap_event(event: bytes) -> bytes:
    """`data: {...}` -> `data: {"response": {...}, "traceId": ...}` (Code Assist's stream framing)."""
    out = []
    for line in event.decode().splitlines():
        if line.startswith("data: "):
            line = "data: " + json.dumps({"response": json.loads(line[6:]), "traceId": "trace-1"})
        out.append(line)
    return ("\r\n".join(out) + "\r\n\r\n").encode()


def enveloped_events(model: str, text: str | None = None) -> list[bytes]:
    return [wrap_event(e) for e in (gemini_events(model, text) if text else gemini_events(model))]


def enveloped_response(model: str, text: str | None = None) -> dict[str, Any]:
    return {"response": gemini_response(model, text) if text else gemini_response(model), "traceId": "trace-1"}


def quota_error(status: int, retry_delay: str | None = None) -> Reply:
    details: list[dict[str, Any]] = []
    if retry_delay is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay})
    gstatus = "RESOURCE_EXHAUSTED" if status == 429 else "UNAVAILABLE"
    return Reply(
        status=status, json={"error": {"code": status, "message": "no capacity", "status": gstatus, "details": details}}
    )


class CodeAssistFake:
    """Answers loadCodeAssist (and onboardUser when `onboarded` is False); generate calls come from
    the queue, or get the canned enveloped answer."""

    def __init__(self, fake: FakeProvider, *, onboarded: bool = True, load_status: int = 200) -> None:
        self.fake = fake
        self.onboarded = onboarded
        self.load_status = load_status
        fake.router = self.route

    def route(self, rec: Recorded) -> Reply | None:
        path = rec.path.split("?", 1)[0]
        if path == "/v1internal:loadCodeAssist":
            if self.load_status != 200:
                message = "The caller does not have permission"
                return Reply(status=self.load_status, json={"error": {"code": self.load_status, "message": message}})
            if self.onboarded:
                return Reply(json={"currentTier": {"id": "free-tier"}, "cloudaicompanionProject": PROJECT})
            return Reply(json={"allowedTiers": [{"id": "legacy-tier"}, {"id": "free-tier", "isDefault": True}]})
        if path == "/v1internal:onboardUser":
            return Reply(json={"name": "op/1", "done": True, "response": {"cloudaicompanionProject": {"id": PROJECT}}})
        if path == "/v1internal:countTokens":
            return Reply(json={"totalTokens": 42})
        if not self.fake.replies.empty():
            return None
        body = rec.json or {}
        model = body.get("model", "gemini-test")
        if path == "/v1internal:streamGenerateContent":
            return Reply(events=enveloped_events(model))
        if path == "/v1internal:generateContent":
            return Reply(json=enveloped_response(model))
        return None

    def calls(self, action: str) -> list[Recorded]:
        return [r for r in self.fake.received if r.path.split("?", 1)[0] == f"/v1internal:{action}"]


def google_creds(path: Path) -> Path:
    """gemini-cli's oauth_creds.json, valid for an hour: no refresh happens in these tests."""
    path.write_text(
        json.dumps(
            {
                "access_token": ACCESS_TOKEN,
                "refresh_token": "refresh-x",
                "expiry_date": int((time.time() + 3600) * 1000),
                "token_type": "Bearer",
            }
        )
    )
    path.chmod(0o600)
    return path


def code_assist_config(fake: FakeProvider, creds: Path, **capacity: Any) -> dict[str, Any]:
    return {
        "ccproxy": {
            "providers": {
                "gemini": {
                    "type": "gemini",
                    "host": "generativelanguage.googleapis.com",
                    "auth": {"type": "google_oauth", "file_path": str(creds), "client_secret": "test-secret"},
                },
            },
            "hooks": {
                "inbound": ["ccproxy.hooks.inject_auth", "ccproxy.hooks.extract_session_id"],
                "outbound": [{"hook": "ccproxy.hooks.gemini_cli", "params": {"scheme": "http"}}],
            },
            # the public Gemini host is pinned too: a flow the hook missed fails here, never in DNS
            "inspector": {
                "resolve": {CODE_ASSIST_HOST: fake.hostport, "generativelanguage.googleapis.com": fake.hostport}
            },
            "gemini_capacity": {"total_retry_budget_seconds": 5, **capacity},
            "lightllm": {
                "transforms": [
                    {
                        "match_path": "^/v1/messages",
                        "action": "transform",
                        "dest_provider": "gemini",
                        "dest_model": "gemini-2.5-flash",
                    }
                ]
            },
        }
    }
