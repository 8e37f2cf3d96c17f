"""Span attributes of one flow: HTTP and GenAI semantic conventions (pure; no I/O).

Names follow the OpenTelemetry semantic conventions (http.*, url.*, server.*, gen_ai.*);
what they do not cover (the client's and upstream's wire formats and models of a translated
flow, the stream's first-byte time) is under ccproxy.*.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mitmproxy import http

from ccproxy.flows import meta
from ccproxy.flows.columns import FlowColumns
from ccproxy.flows.tokens import body_documents
from ccproxy.providers.redact import redact
from ccproxy.telemetry import attributes as attr

AttrValue = str | bool | int | float | list[str]

# gen_ai.provider.name well-known values, by the wire format the upstream speaks.
PROVIDER_NAME = {"anthropic": "anthropic", "openai": "openai", "openai_responses": "openai", "gemini": "gcp.gemini"}
OPERATION = {"anthropic": "chat", "openai": "chat", "openai_responses": "chat", "gemini": "generate_content"}
# Captured bodies are cut here: a span is not a flow store.
CONTENT_LIMIT = 64 * 1024


@dataclass
class SpanFacts:
    name: str
    attributes: dict[str, AttrValue]
    error: str | None = None
    # (name, unix seconds, attributes) of point events, and (name, start, end, attributes) of child spans
    events: list[tuple[str, float, dict[str, AttrValue]]] = field(default_factory=list)
    children: list[tuple[str, float, float, dict[str, AttrValue]]] = field(default_factory=list)


def _json(message: http.Message | None) -> Any:
    if message is None or not message.raw_content or len(message.raw_content) > 4 * 1024 * 1024:
        return None
    try:
        return json.loads(message.get_content(strict=False) or b"")
    except (ValueError, UnicodeDecodeError):
        return None


def _model_of(body: Any) -> str | None:
    return body.get("model") if isinstance(body, dict) and isinstance(body.get("model"), str) else None


def response_facts(body: bytes | None) -> tuple[str | None, list[str]]:
    """(response model, finish reasons) from an upstream body of any wire, JSON or event stream.
    The raw provider values are reported, as the semantic conventions ask."""
    model: str | None = None
    reasons: list[str] = []
    if not body:
        return None, []
    try:
        docs = list(body_documents(body))
    except (UnicodeDecodeError, RecursionError):
        return None, []
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        for holder in (doc, doc.get("message"), doc.get("response"), doc.get("delta")):
            if not isinstance(holder, dict):
                continue
            found = holder.get("model") or holder.get("modelVersion")
            if isinstance(found, str) and found:
                model = found
            stop = holder.get("stop_reason")
            if isinstance(stop, str):
                reasons.append(stop)
        response = doc.get("response")
        if isinstance(response, dict) and response.get("status") in ("completed", "incomplete", "failed"):
            reasons.append(str(response["status"]))  # Responses API: the status is its finish reason
        for choice in doc.get("choices") or doc.get("candidates") or []:
            if isinstance(choice, dict):
                reason = choice.get("finish_reason") or choice.get("finishReason")
                if isinstance(reason, str):
                    reasons.append(reason)
    if isinstance(docs[-1:] and docs[-1], dict) and docs[-1].get("object") == "response":
        status = docs[-1].get("status")  # a non-streamed Responses answer
        if isinstance(status, str):
            reasons.append(status)
    return model, list(dict.fromkeys(reasons))


def _body_text(message: http.Message | None, secrets: Iterable[str]) -> str | None:
    if message is None or not message.raw_content:
        return None
    try:
        text = (message.get_content(strict=False) or b"")[:CONTENT_LIMIT].decode("utf-8", "replace")
    except ValueError:
        return None
    return redact(text, secrets)


def flow_facts(
    flow: http.HTTPFlow, columns: FlowColumns, *, capture_content: bool, secrets: Iterable[str] = ()
) -> SpanFacts:
    md = flow.metadata
    req = flow.request
    client_req = meta.client_request(flow) or req
    upstream = meta.upstream_response(flow)
    client_resp = meta.client_response(flow)
    client_wire = columns.client_wire
    upstream_wire = columns.upstream_wire
    attrs: dict[str, AttrValue] = {
        "http.request.method": req.method,
        "url.scheme": req.scheme,
        "url.path": req.path.split("?")[0],
        # no query string: Gemini's ?key= is a credential
        "url.full": f"{req.scheme}://{req.pretty_host}:{req.port}{req.path.split('?')[0]}",
        "server.address": req.pretty_host,
        "server.port": req.port,
        attr.FLOW_ID: flow.id,
        attr.LISTENER: columns.listener,
    }
    if flow.response is not None:
        attrs["http.response.status_code"] = flow.response.status_code
    if columns.provider:
        attrs[attr.PROVIDER] = columns.provider
    name = f"{req.method} {client_req.path.split('?')[0]}"
    if upstream_wire in PROVIDER_NAME:
        operation = OPERATION[upstream_wire]
        attrs["gen_ai.provider.name"] = PROVIDER_NAME[upstream_wire]
        attrs["gen_ai.operation.name"] = operation
        client_model = columns.model
        upstream_model = _model_of(_json(req)) or client_model
        if "/models/" in req.path and upstream_wire == "gemini":
            upstream_model = req.path.split("/models/", 1)[1].split(":", 1)[0].split("?")[0]
        if upstream_model:
            attrs["gen_ai.request.model"] = upstream_model
        resp_model, reasons = response_facts(upstream.raw_content if upstream is not None else None)
        if resp_model:
            attrs["gen_ai.response.model"] = resp_model
        if reasons:
            attrs["gen_ai.response.finish_reasons"] = reasons
        for key, value in (
            ("gen_ai.usage.input_tokens", columns.input_tokens),
            ("gen_ai.usage.output_tokens", columns.output_tokens),
            ("gen_ai.usage.cache_read.input_tokens", columns.cache_read_tokens),
            ("gen_ai.usage.cache_creation.input_tokens", columns.cache_write_tokens),
        ):
            if value is not None:
                attrs[key] = value
        conversation = columns.session_id or columns.conversation_key
        if conversation:
            attrs["gen_ai.conversation.id"] = conversation
        attrs[attr.CLIENT_WIRE] = client_wire or upstream_wire
        attrs[attr.UPSTREAM_WIRE] = upstream_wire
        if client_model:
            attrs[attr.CLIENT_MODEL] = client_model
        if upstream_model:
            attrs[attr.UPSTREAM_MODEL] = upstream_model
        attrs[attr.TRANSFORMED] = bool(
            (client_wire and client_wire != upstream_wire) or (client_model and client_model != upstream_model)
        )
        name = f"{operation} {upstream_model}" if upstream_model else operation
    attrs[attr.STREAM] = columns.stream
    facts = SpanFacts(name=name, attributes=attrs)
    stream = md.get(meta.STREAM)
    if isinstance(stream, dict) and stream.get("first_byte_s") is not None and flow.response is not None:
        resp_start = flow.response.timestamp_start or req.timestamp_start
        first = resp_start + float(stream["first_byte_s"])
        ttft = first - req.timestamp_start
        attrs[attr.STREAM_TIME_TO_FIRST_TOKEN_S] = round(ttft, 6)
        if stream.get("events") is not None:
            attrs[attr.STREAM_EVENTS] = int(stream["events"])
        facts.events.append(("gen_ai.first_token", first, {attr.EVENT_TTFT: round(ttft, 6)}))
    for t in md.get(meta.HOOK_TIMINGS) or []:
        if isinstance(t, dict) and isinstance(t.get("start"), float) and isinstance(t.get("end"), float):
            child = {attr.HOOK_NAME: str(t.get("hook")), attr.HOOK_STAGE: str(t.get("stage"))}
            child[attr.HOOK_PHASE] = str(t.get("phase"))
            facts.children.append((f"hook {t.get('hook')}", t["start"], t["end"], dict(child)))
    error = flow.error.msg if flow.error else md.get(meta.ERROR)
    status = flow.response.status_code if flow.response is not None else None
    if error:
        facts.error = redact(str(error), secrets)
        attrs["error.type"] = str(status) if status and status >= 400 else attr.ERROR_TYPE_CCPROXY
    elif status is not None and status >= 400:
        facts.error = f"HTTP {status}"
        attrs["error.type"] = str(status)
    if capture_content:
        for key, message in ((attr.REQUEST_BODY, client_req), (attr.RESPONSE_BODY, client_resp)):
            text = _body_text(message, secrets)
            if text is not None:
                attrs[key] = text
    return facts
