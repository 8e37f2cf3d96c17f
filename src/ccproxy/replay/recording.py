"""Recorded exchanges to replay, from a mitmproxy flow file, a HAR file, or the flow store.

Each exchange is the client's side of a flow: the request as the client sent it and the
response as the client received it (the converted one for translated flows), so a client
pointed at the replay server sees what it saw through ccproxy.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str  # without the query string (Gemini puts its key there)
    request_body: bytes
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    # streams: seconds from the request to the first byte, and to the last
    first_byte_s: float | None = None
    duration_s: float | None = None

    @property
    def is_stream(self) -> bool:
        ctype = dict(self.headers).get("content-type", "")
        return ctype.startswith("text/event-stream")


# Hop-by-hop and framing headers: the replay server frames the body itself.
_DROP = frozenset({"content-length", "transfer-encoding", "connection", "content-encoding", "keep-alive", "date"})


def _headers(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((k.lower(), v) for k, v in pairs if k.lower() not in _DROP)


def from_flows(flows: Iterable[Any]) -> list[Exchange]:
    """mitmproxy HTTPFlows (from a file or the store); flows without a response are skipped."""
    from ccproxy.flows import meta

    out: list[Exchange] = []
    for flow in flows:
        req = meta.client_request(flow) or flow.request
        resp = meta.client_response(flow)
        if resp is None or flow.metadata.get(meta.CONTROL):
            continue
        stream = flow.metadata.get(meta.STREAM)
        first = duration = None
        if isinstance(stream, dict) and resp.timestamp_start and flow.request.timestamp_start:
            head = resp.timestamp_start - flow.request.timestamp_start
            if stream.get("first_byte_s") is not None:
                first = head + float(stream["first_byte_s"])
            if stream.get("duration_s") is not None:
                duration = head + float(stream["duration_s"])
        out.append(
            Exchange(
                method=req.method,
                path=req.path.split("?", 1)[0],
                request_body=req.get_content(strict=False) or b"",
                status=resp.status_code,
                headers=_headers(resp.headers.items(multi=True)),
                body=resp.get_content(strict=False) or b"",
                first_byte_s=first,
                duration_s=duration,
            )
        )
    return out


def _har_text(content: dict[str, Any] | None) -> bytes:
    if not content or content.get("text") is None:
        return b""
    text = str(content["text"])
    return base64.b64decode(text) if content.get("encoding") == "base64" else text.encode()


def from_har(path: Path) -> list[Exchange]:
    """The client-side entries of a HAR 1.2 file (`ccproxy flows dump`); every entry of a
    foreign HAR, which has no roles."""
    try:
        log = json.loads(path.read_text())["log"]
        entries: list[dict[str, Any]] = list(log["entries"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a HAR file ({e})") from e
    ours = [x for x in entries if (x.get("_ccproxy") or {}).get("role") == "client"]
    out: list[Exchange] = []
    for entry in ours or entries:
        req, resp = entry.get("request") or {}, entry.get("response") or {}
        if not resp.get("status"):
            continue  # the request failed: nothing to replay
        url = str(req.get("url", ""))
        path_part = "/" + url.split("://", 1)[-1].split("/", 1)[-1] if "://" in url else url
        out.append(
            Exchange(
                method=str(req.get("method", "GET")),
                path=path_part.split("?", 1)[0],
                request_body=_har_text(req.get("postData")),
                status=int(resp["status"]),
                headers=_headers((h["name"], h["value"]) for h in resp.get("headers", [])),
                body=_har_text(resp.get("content")),
            )
        )
    return out


def from_file(path: Path) -> list[Exchange]:
    if not path.is_file():
        raise ValueError(f"--from {path}: no such file")
    if path.suffix.lower() == ".har":
        return from_har(path)
    from ccproxy.flows.mitmformat import FlowReadException, read_file

    try:
        return from_flows(read_file(path))
    except FlowReadException as e:
        raise ValueError(f"--from {path}: not a mitmproxy flow file ({e})") from e


def from_store(db: Path, filters: Sequence[str]) -> list[Exchange]:
    """Flows of flows.db selected by jq filters over their JSON summaries (as `flows list`)."""
    from ccproxy.flows.jqchain import apply_filters
    from ccproxy.flows.query import ALL, FlowQuery
    from ccproxy.flows.store import FlowStore

    if not db.exists():
        raise ValueError(f"no flow store at {db}")
    store = FlowStore(db, max_flows=2**62, max_bytes=2**62, readonly=True)
    try:
        store.open()
        rows = store.rows(ALL)
        kept = apply_filters([json.loads(r.summary) for r in rows], filters)
        ids = tuple(str(f["id"]) for f in kept if isinstance(f, dict) and "id" in f)
        flows = store.flows(FlowQuery(ids=ids)) if ids else []
        order = {i: n for n, i in enumerate(ids)}
        return from_flows(sorted(flows, key=lambda f: order.get(f.id, 0)))
    finally:
        store.close()
