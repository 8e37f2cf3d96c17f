"""Dispatch: parse a body of one wire format and render it in another.

All functions are pure and raise `ConversionError` (a `ValueError`) naming the key path on
bad input. Same-wire conversion never re-renders: the body is passed on (with the model
replaced when asked), so nothing the client sent can be lost.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ccproxy.lightllm import anthropic, gemini, openai_chat, openai_responses
from ccproxy.lightllm.errors import convert_error
from ccproxy.lightllm.ir import (
    WIRES,
    ConversionError,
    Message,
    Node,
    Request,
    Response,
    TextPart,
    Wire,
    log,
    merge_adjacent,
)

__all__ = [
    "RenderedRequest",
    "convert_error",
    "convert_request",
    "convert_response",
    "parse_request",
    "parse_response",
    "render_request",
    "render_response",
    "request_path",
]

_REQ_PARSE: dict[str, Callable[[Any], Request]] = {
    "anthropic": anthropic.parse_request,
    "openai": openai_chat.parse_request,
    "openai_responses": openai_responses.parse_request,
}
_REQ_RENDER: dict[str, Callable[..., dict[str, Any]]] = {
    "anthropic": anthropic.render_request,
    "openai": openai_chat.render_request,
    "openai_responses": openai_responses.render_request,
    "gemini": gemini.render_request,
}
_RESP_PARSE: dict[str, Callable[[Any], Response]] = {
    "anthropic": anthropic.parse_response,
    "openai": openai_chat.parse_response,
    "openai_responses": openai_responses.parse_response,
    "gemini": gemini.parse_response,
}
_RESP_RENDER: dict[str, Callable[..., dict[str, Any]]] = {
    "anthropic": anthropic.render_response,
    "openai": openai_chat.render_response,
    "openai_responses": openai_responses.render_response,
    "gemini": gemini.render_response,
}

# Canonical paths of each wire; Gemini's depends on model and streaming.
PATHS: dict[str, str] = {
    "anthropic": "/v1/messages",
    "openai": "/v1/chat/completions",
    "openai_responses": "/v1/responses",
}


def _guarded[T](what: str, fn: Callable[[], T]) -> T:
    """Shape errors deep in a body (a list where an object belongs, ...) as ConversionError:
    the wire parsers name key paths for what they check; this catches the rest."""
    try:
        return fn()
    except ValidationError as e:
        # a value of the wrong type where the IR holds a scalar (`"model": []`)
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "body"
        raise ConversionError(f"{what}: {where}: {err['msg']}") from e
    except (TypeError, KeyError, AttributeError, IndexError) as e:
        raise ConversionError(f"{what}: malformed body ({type(e).__name__}: {e})") from e


def _wire(w: str, what: str) -> Wire:
    if w not in WIRES:
        raise ConversionError(f"{what}: unknown wire format {w!r} (known: {', '.join(WIRES)})")
    return w


def request_path(wire: Wire, model: str | None, stream: bool, *, gemini_version: str = "v1beta") -> str:
    """The upstream path for a request of `wire` (Gemini: model and streaming in the URL)."""
    if wire == "gemini":
        if not model:
            raise ConversionError("model: required to build a Gemini path")
        return gemini.gemini_path(model, stream, gemini_version)
    return PATHS[_wire(wire, "wire")]


def parse_request(
    body: Any, wire: Wire, *, path: str | None = None, model: str | None = None, stream: bool | None = None
) -> Request:
    return _guarded(f"{wire} request", lambda: _parse_request(body, wire, path, model, stream))


def _parse_request(body: Any, wire: Wire, path: str | None, model: str | None, stream: bool | None) -> Request:
    wire = _wire(wire, "src_wire")
    if wire == "gemini":
        parsed = gemini.parse_path(path or "")
        if model is None and parsed is not None:
            model = parsed[1]
        if stream is None and parsed is not None:
            stream = parsed[2] == "streamGenerateContent"
        return gemini.parse_request(body, model=model, stream=stream)
    return _REQ_PARSE[wire](body)


def normalize(req: Request) -> Request:
    """Make a parsed request fit any other wire: leading system messages become the system
    prompt, empty text parts go (Chat clients send `content: ""` next to tool calls; Anthropic
    rejects empty text blocks), adjacent same-role turns merge, tool results lead their turn."""
    messages = []
    for m in req.messages:
        parts = [p for p in m.parts if not (isinstance(p, TextPart) and not p.text and p.signature is None)]
        # Nodes are never changed in place (a change is a copy), so an unchanged turn is shared.
        messages.append(m if len(parts) == len(m.parts) or not parts else m.model_copy(update={"parts": parts}))
    system = list(req.system or [])
    while messages and messages[0].role == "system":
        system.extend(p for p in messages.pop(0).parts if isinstance(p, TextPart))
    merged: list[Message] = merge_adjacent(messages)
    return req.model_copy(update={"messages": merged, "system": system or req.system})


# Hints that hold data of their wire (not just its spelling): lost when rendering another wire.
_DATA_HINTS = {
    "metadata", "output_config", "source_extra", "fn_extra", "js_extra", "msg_extra", "text", "gen_extra",
    "fc_extra", "fr_extra", "blob_extra", "more_choices", "more", "cand_extra", "choice_extra", "usage_extra",
    "image_url", "file",
}  # fmt: skip


def log_foreign(node: Any, dst: Wire, where: str = "") -> None:
    """Log (DEBUG) every wire-specific datum that a render for `dst` leaves behind."""
    if isinstance(node, list):
        for i, n in enumerate(node):
            log_foreign(n, dst, f"{where}[{i}]")
        return
    if not isinstance(node, Node):
        return
    for wire, hints in node.hints.items():
        lost = sorted(
            sub if isinstance(v, dict) else k
            for k, v in hints.items()
            if k in _DATA_HINTS and v and wire != dst
            for sub in (v if isinstance(v, dict) else [k])
        )
        if lost:
            log.debug("lightllm: dropped %s-only data %s at %s rendering %s", wire, lost, where or "top", dst)
    for name in type(node).model_fields:
        if name not in ("extras", "hints"):
            log_foreign(getattr(node, name), dst, f"{where}.{name}" if where else name)


def render_request(req: Request, wire: Wire, *, model: str | None = None) -> dict[str, Any]:
    wire = _wire(wire, "dst_wire")
    if log.isEnabledFor(logging.DEBUG) and wire not in req.hints:
        log_foreign(req, wire)
    body = _guarded(f"{wire} request", lambda: _REQ_RENDER[wire](req, model=model))
    if wire == "openai" and req.stream and "stream_options" not in body and wire not in req.hints:
        # Usage only arrives in a Chat stream when asked for; other formats always send it.
        body["stream_options"] = {"include_usage": True}
    if wire == "gemini":
        body.pop("model", None)
    return body


@dataclass(frozen=True)
class RenderedRequest:
    body: dict[str, Any]
    path: str
    model: str | None
    stream: bool


def convert_request_full(
    body: Any,
    src_wire: Wire,
    dst_wire: Wire,
    *,
    model: str | None = None,
    path: str | None = None,
    gemini_version: str = "v1beta",
) -> RenderedRequest:
    """Convert a request body and say where it goes: the destination path changes with the
    wire, and for Gemini with the model and streaming."""
    req = parse_request(body, src_wire, path=path)
    target_model = model or req.model
    if target_model is not None and not isinstance(target_model, str):
        raise ConversionError("model: expected a string")
    stream = bool(req.stream)
    if src_wire == dst_wire:
        out = copy.deepcopy(body)
        if model is not None and dst_wire != "gemini":
            out["model"] = model
    else:
        out = render_request(normalize(req), dst_wire, model=target_model)
    dst_path = request_path(dst_wire, target_model, stream, gemini_version=gemini_version)
    if src_wire == dst_wire and path is not None and dst_wire != "gemini":
        dst_path = path
    return RenderedRequest(out, dst_path, target_model, stream)


def convert_request(
    body: Any, src_wire: Wire, dst_wire: Wire, *, model: str | None = None, path: str | None = None
) -> dict[str, Any]:
    return convert_request_full(body, src_wire, dst_wire, model=model, path=path).body


def parse_response(body: Any, wire: Wire) -> Response:
    parse = _RESP_PARSE[_wire(wire, "src_wire")]
    return _guarded(f"{wire} response", lambda: parse(body))


def render_response(resp: Response, wire: Wire, *, model: str | None = None) -> dict[str, Any]:
    wire = _wire(wire, "dst_wire")
    if log.isEnabledFor(logging.DEBUG) and wire not in resp.hints:
        log_foreign(resp, wire)
    return _guarded(f"{wire} response", lambda: _RESP_RENDER[wire](resp, model=model))


def convert_response(body: Any, src_wire: Wire, dst_wire: Wire, *, model: str | None = None) -> dict[str, Any]:
    """A non-streamed upstream response body of `src_wire` as the `dst_wire` client expects.
    `model` is the name the client asked for (shown instead of the upstream's)."""
    resp = parse_response(body, src_wire)
    if src_wire == dst_wire:
        out = copy.deepcopy(body)
        if model is not None and dst_wire != "gemini" and "model" in out:
            out["model"] = model
        return out
    return render_response(resp, dst_wire, model=model)


def convert_error_body(
    status: int,
    body: bytes | str | Any,
    src_wire: Wire,
    dst_wire: Wire,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    return convert_error(status, body, _wire(src_wire, "src_wire"), _wire(dst_wire, "dst_wire"), headers)
