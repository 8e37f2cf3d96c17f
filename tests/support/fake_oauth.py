"""A fake OAuth token endpoint on loopback (refresh_token grant only).

Each refresh issues `access-N`/`refresh-N`; tests read `.requests` to count
refreshes and check what the client sent (JSON or form body).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class TokenRequest:
    path: str
    content_type: str
    body: dict[str, Any]
    at: float


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length).decode()
        ctype = self.headers.get("content-type", "")
        body = json.loads(raw) if "json" in ctype else dict(parse_qsl(raw))
        fake = self.server.fake
        with fake.lock:
            fake.requests.append(TokenRequest(self.path, ctype, body, time.time()))
            n = len(fake.requests)
        if fake.delay:
            time.sleep(fake.delay)
        status, payload = fake.answer(n, body)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    # The stdlib's listen backlog of 5 drops connections when tests fire 20 requests at once.
    request_queue_size = 128
    daemon_threads = True
    fake: FakeOAuth


class FakeOAuth:
    def __init__(self, *, expires_in: int = 3600, rotate_refresh: bool = True, delay: float = 0.0) -> None:
        self.expires_in = expires_in
        self.rotate_refresh = rotate_refresh
        self.delay = delay
        self.fail_status: int | None = None
        self.extra: dict[str, Any] = {}
        self.requests: list[TokenRequest] = []
        self.lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1/oauth/token"

    def answer(self, n: int, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.fail_status is not None:
            return self.fail_status, {"error": "invalid_grant", "error_description": "refresh token revoked"}
        if body.get("grant_type") != "refresh_token" or not body.get("refresh_token"):
            return 400, {"error": "invalid_request"}
        payload: dict[str, Any] = {"access_token": f"access-{n}", "expires_in": self.expires_in, **self.extra}
        if self.rotate_refresh:
            payload["refresh_token"] = f"refresh-{n}"
        return 200, payload

    def start(self) -> FakeOAuth:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
