"""The indexed columns of a stored flow: what `flows list`, `--group`, usage and the MCP tools
filter and sort on, computed once from the flow when it is written (pure; no I/O)."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mitmproxy import http

# Bodies larger than this are not parsed for the model and session (a huge prompt costs
# the writer thread time for one string).
_PARSE_LIMIT = 4 * 1024 * 1024
_GEMINI_MODEL = re.compile(r"/models/([^/:?]+)")


@dataclass
class FlowColumns:
    id: str
    ts_start: float
    ts_end: float | None
    listener: str
    method: str
    scheme: str
    host: str
    path: str
    status: int | None
    error: str | None
    provider: str | None
    client_wire: str | None
    upstream_wire: str | None
    model: str | None  # as the client asked
    upstream_model: str | None  # as forwarded (a transform rule may rename it): what is billed
    session_id: str | None
    conversation_key: str | None
    stream: bool
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    request_bytes: int
    response_bytes: int
    # The user agent `flows list` shows: the client's, before shape replay may have replaced it.
    user_agent: str | None = None

    def as_row(self) -> dict[str, Any]:
        row = asdict(self)
        row["stream"] = int(self.stream)
        return row


def _json_body(message: http.Message | None) -> Any:
    if message is None or not message.raw_content or len(message.raw_content) > _PARSE_LIMIT:
        return None
    try:
        return json.loads(message.get_content(strict=False) or b"")
    except (ValueError, UnicodeDecodeError):
        return None


def _conversation_key(flow: http.HTTPFlow, client: http.Request, body: Any) -> str | None:
    """Same precedence as `flows list --group` (conversations.explicit_key), from the flow object."""
    # Imported here: the store's read path (`flows list` offline) needs FlowColumns only.
    from ccproxy.flows import meta
    from ccproxy.flows.conversations import SESSION_HEADERS, session_from_user_id

    session = flow.metadata.get(meta.SESSION_ID)
    if session:
        return str(session)
    if isinstance(body, dict):
        metadata = body.get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str) and metadata["user_id"]:
            return session_from_user_id(metadata["user_id"])
    wanted = _session_header_bytes(SESSION_HEADERS)
    for req in (client, flow.request):
        value = _first_header(req.headers, wanted)
        if value:
            return value
    return None


@functools.cache
def _session_header_bytes(names: tuple[str, ...]) -> tuple[bytes, ...]:
    return tuple(name.encode() for name in names)


def _first_header(headers: http.Headers, wanted: tuple[bytes, ...]) -> str | None:
    """The first of `wanted` (lower-case names, in that precedence) with a non-empty value, as
    `headers.get(name)` gives it (repeated fields joined by ", "), in one pass over the fields
    instead of one multidict lookup per name."""
    found: dict[bytes, list[bytes]] = {}
    for key, value in headers.fields:
        low = key.lower()
        if low in wanted:
            found.setdefault(low, []).append(value)
    for name in wanted:
        values = found.get(name)
        if values:
            text = b", ".join(values).decode("utf-8", "surrogateescape")
            if text:
                return text
    return None


def _same_body(a: http.Message, b: http.Message) -> bool:
    """Whether two messages' bodies decode alike (a request forwarded unchanged: parse it once)."""
    return a.raw_content == b.raw_content and a.headers.get("content-encoding") == b.headers.get("content-encoding")


def _model(request: http.Request, body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("model"), str):
        return str(body["model"])
    match = _GEMINI_MODEL.search(request.path)  # Gemini puts the model in the path
    return match.group(1) if match else None


def message_bytes(message: http.Message | None) -> int:
    return len(message.raw_content or b"") if message is not None else 0


def flow_columns(flow: http.HTTPFlow, client: http.Request | None = None) -> FlowColumns:
    """`client`: the decoded client request when the caller already has it (decoding is costly)."""
    # Imported here: FlowColumns alone (the store's read path) needs neither mitmproxy nor lightllm.
    from ccproxy.flows import meta
    from ccproxy.flows.tokens import body_usage

    md = flow.metadata
    req = flow.request
    client = client if client is not None else meta.client_request(flow) or req
    body = _json_body(client)
    model = _model(client, body)
    upstream_model = model if client is req else _model(req, body if _same_body(client, req) else _json_body(req))
    upstream = meta.upstream_response(flow)
    upstream_wire = md.get(meta.UPSTREAM_WIRE) or md.get(meta.CLIENT_WIRE)
    usage = body_usage(upstream.raw_content if upstream is not None else None, upstream_wire)
    ctype = (upstream.headers.get("content-type", "") if upstream is not None else "").lower()
    error = flow.error.msg if flow.error else md.get(meta.ERROR)
    ts_end = flow.response.timestamp_end if flow.response else (flow.error.timestamp if flow.error else None)
    return FlowColumns(
        id=flow.id,
        ts_start=req.timestamp_start or flow.timestamp_created,
        ts_end=ts_end,
        listener=str(md.get(meta.LISTENER, "reverse")),
        method=req.method,
        scheme=req.scheme,
        host=req.pretty_host,
        path=req.path,
        status=flow.response.status_code if flow.response else None,
        error=str(error) if error else None,
        provider=md.get(meta.PROVIDER),
        client_wire=md.get(meta.CLIENT_WIRE),
        upstream_wire=upstream_wire,
        model=model,
        upstream_model=upstream_model,
        session_id=md.get(meta.SESSION_ID),
        conversation_key=_conversation_key(flow, client, body),
        stream=meta.STREAM in md or ctype.startswith("text/event-stream"),
        input_tokens=usage.input_tokens if usage else None,
        output_tokens=usage.output_tokens if usage else None,
        cache_read_tokens=usage.cache_read_tokens if usage else None,
        cache_write_tokens=usage.cache_write_tokens if usage else None,
        request_bytes=message_bytes(req) + message_bytes(client if client is not req else None),
        response_bytes=_response_bytes(flow, upstream),
        user_agent=client.headers.get("user-agent") or req.headers.get("user-agent") or None,
    )


def _response_bytes(flow: http.HTTPFlow, upstream: http.Response | None) -> int:
    """Every response body the flow holds: upstream's, and the client's copy when it differs."""
    from ccproxy.flows import meta

    md = flow.metadata
    size = message_bytes(upstream)
    if md.get(meta.CLIENT_RESPONSE):
        size += message_bytes(meta.client_response(flow))
    if md.get(meta.UPSTREAM_RESPONSE):
        size += message_bytes(flow.response)  # the converted answer, upstream's kept apart
    return size
