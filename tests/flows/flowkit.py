"""Flows in the daemon's /flows JSON contract, built from real mitmproxy flows.

``make_flow`` builds a real ``mitmproxy.http.HTTPFlow`` (with the pre-pipeline snapshot and
ccproxy metadata the daemon's addons record); ``to_contract`` serializes it with the daemon's
own serializer; ``FakeFlowsDaemon`` serves such flows on a loopback port for CLI tests that
need exact flow contents (binary bodies, errors, transforms) without the whole proxy.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mitmproxy import http
from mitmproxy.test import tflow

from ccproxy.flows.serialize import flow_json


def to_contract(flow: http.HTTPFlow, bodies: bool = True, reveal: bool = False) -> dict[str, Any]:
    """The daemon's own serializer, so tests see exactly what GET /flows returns."""
    return flow_json(flow, bodies=bodies, reveal=reveal)


def make_flow(
    url: str = "https://api.anthropic.com/v1/messages",
    body: Any = None,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    status: int | None = 200,
    response_body: bytes | str | Any = b'{"ok": true}',
    response_headers: dict[str, str] | None = None,
    client_url: str | None = None,
    client_body: Any = None,
    client_response_body: Any = None,
    started: float | None = None,
    error: str | None = None,
    meta: dict[str, Any] | None = None,
) -> http.HTTPFlow:
    """A real HTTPFlow; ``client_*`` records a pre-pipeline snapshot that differs from it."""
    flow = tflow.tflow(resp=False)
    flow.id = str(uuid.uuid4())
    start = time.time() - 30 if started is None else started
    content = _encode(body)
    hdrs = {"content-type": "application/json", "user-agent": "claude-cli/2.0.14 (external, cli)"}
    hdrs.update(headers or {})
    flow.request = http.Request.make(method, url, content, hdrs)
    flow.request.timestamp_start, flow.request.timestamp_end = start, start + 0.01
    flow.timestamp_created = start
    flow.client_conn.timestamp_start = start
    if status is not None:
        rh = {"content-type": "application/json"}
        rh.update(response_headers or {})
        flow.response = http.Response.make(status, _encode(response_body), rh)
        flow.response.timestamp_start, flow.response.timestamp_end = start + 0.2, start + 0.5
    if error:
        from mitmproxy.flow import Error

        flow.error = Error(error)
    if client_url is not None or client_body is not None:
        snapshot = flow.request.copy()
        if client_url is not None:
            snapshot.url = client_url
        if client_body is not None:
            snapshot.content = _encode(client_body)
        flow.metadata["ccproxy.client_request"] = snapshot.get_state()
    if client_response_body is not None and flow.response is not None:
        converted = flow.response.copy()
        converted.content = _encode(client_response_body)
        flow.metadata["ccproxy.client_response"] = converted.get_state()
    for key, value in (meta or {}).items():
        flow.metadata[f"ccproxy.{key}"] = value
    return flow


def _encode(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value).encode()


class FakeFlowsDaemon:
    """Serves the /flows contract for a list of real flows on 127.0.0.1 (until the real daemon)."""

    def __init__(self, flows: list[http.HTTPFlow]) -> None:
        self.flows = list(flows)
        self.requests: list[str] = []
        daemon = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                daemon.requests.append(f"GET {self.path}")
                url = urlsplit(self.path)
                q = parse_qs(url.query)
                reveal = q.get("reveal") == ["1"]
                if url.path == "/flows":
                    bodies = q.get("bodies") == ["1"]
                    self._send(200, [to_contract(f, bodies, reveal) for f in daemon.flows])
                elif url.path.startswith("/flows/"):
                    fid = url.path.removeprefix("/flows/")
                    match = [f for f in daemon.flows if f.id == fid]
                    if match:
                        self._send(200, to_contract(match[0], True, reveal))
                    else:
                        self._send(404, {"error": "not found"})
                else:
                    self._send(404, {"error": "not found"})

            def do_DELETE(self) -> None:
                daemon.requests.append(f"DELETE {self.path}")
                url = urlsplit(self.path)
                q = parse_qs(url.query)
                before = len(daemon.flows)
                if "ids" in q:
                    ids = set(q["ids"][0].split(","))
                    daemon.flows = [f for f in daemon.flows if f.id not in ids]
                else:
                    daemon.flows = []
                self._send(200, {"cleared": before - len(daemon.flows)})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeFlowsDaemon:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
