"""Transform: route by `lightllm.transforms` rules and convert bodies between wire formats.

On `request`: the first matching rule (see ccproxy.lightllm.rules) picks the destination
provider; when the client's wire differs from the destination's (by a rule, or because a
sentinel key already routed the flow to a provider of another type) the body is converted
through lightllm and the path rebuilt for the destination. count_tokens requests that end up
at a provider of another format are answered here with an estimate.

On `response`: a converted flow's non-streamed answer (success or error) is converted back
into the client's format; a body that cannot be converted becomes a clean error in the
client's format, never the untransformed body. Streamed answers belong to the streaming
addon (it hooks `responseheaders`); `flow.response.stream` is left alone here.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from mitmproxy import http

from ccproxy.addons.failsafe import fail_closed
from ccproxy.config.models import Config, Provider
from ccproxy.flows import meta
from ccproxy.lightllm import convert as cv
from ccproxy.lightllm import count_tokens as ct
from ccproxy.lightllm import errors as lerr
from ccproxy.lightllm import ids
from ccproxy.lightllm.detect import Endpoint, classify
from ccproxy.lightllm.gemini import parse_path
from ccproxy.lightllm.ir import Wire
from ccproxy.lightllm.rules import (
    CompiledRule,
    RequestView,
    compile_rules,
    describe,
    effective_action,
    match_rule,
    model_of,
)
from ccproxy.mitm_compat import make_response
from ccproxy.providers.destination import apply_destination, rewrite_path

log = logging.getLogger(__name__)

# The upstream's own response, kept for forensics when the client got a converted one.
# Set by the inspector when no provider serves the client's wire; a rule may still route it.

# (flow, provider name, provider) -> put that provider's credential on the request.
CredentialHook = Callable[[http.HTTPFlow, str, Provider], Awaitable[None] | None]

# Headers that only mean something to one wire's API.
_WIRE_HEADERS: dict[Wire, tuple[str, ...]] = {
    "anthropic": ("anthropic-version", "anthropic-beta", "anthropic-dangerous-direct-browser-access"),
    "openai": ("openai-beta", "openai-organization", "openai-project"),
    "openai_responses": ("openai-beta", "openai-organization", "openai-project"),
    "gemini": ("x-goog-api-client", "x-goog-user-project"),
}


_CREDENTIAL_HEADERS = frozenset((b"authorization", b"x-api-key", b"x-goog-api-key"))


def _dropped_on_conversion(src: Wire, dst: Wire) -> frozenset[bytes]:
    """Headers a request converted from `src` to `dst` loses: `src`-only ones, and the
    content-encoding (the converted body is written plain)."""
    names = [n for n in _WIRE_HEADERS[src] if n not in _WIRE_HEADERS[dst]]
    return frozenset(n.encode() for n in (*names, "content-encoding"))


_DROPPED = {(s, d): _dropped_on_conversion(s, d) for s in _WIRE_HEADERS for d in _WIRE_HEADERS}


def drop_headers(headers: http.Headers, names: frozenset[bytes]) -> None:
    """Removes every header named in `names` (lower-case) in one pass over the fields: a
    `pop` per name would scan them twice per name."""
    fields = headers.fields
    kept = tuple(f for f in fields if f[0].lower() not in names)
    if len(kept) != len(fields):
        headers.fields = kept


def _json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> http.Response:
    return make_response(status, json.dumps(payload).encode(), {"content-type": "application/json", **(headers or {})})


def header_map(headers: http.Headers) -> dict[str, str]:
    """The headers as a dict of lower-case names, a repeated header's values joined with ", " as
    `headers[name]` joins them; read from the fields in one pass (`items()` looks each name up again)."""
    out: dict[str, str] = {}
    for name, value in headers.fields:
        k, v = name.decode("utf-8", "surrogateescape").lower(), value.decode("utf-8", "surrogateescape")
        out[k] = f"{out[k]}, {v}" if k in out else v
    return out


def _credentials(headers: http.Headers) -> dict[bytes, str]:
    """The credential headers as `headers.get` reads them (repeated ones joined with ", "), found
    in one pass over the fields instead of one per name."""
    found: dict[bytes, list[str]] = {}
    for name, value in headers.fields:
        key = name.lower()
        if key in _CREDENTIAL_HEADERS:
            found.setdefault(key, []).append(value.decode("utf-8", "surrogateescape"))
    return {k: ", ".join(v) for k, v in found.items()}


def _client_credential(request: http.Request, wire: Wire, sent: dict[bytes, str]) -> str | None:
    """The key the client sent, wherever its SDK puts it."""
    auth = sent.get(b"authorization", "")
    bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    if wire == "anthropic":
        return sent.get(b"x-api-key") or bearer
    if wire == "gemini":
        return sent.get(b"x-goog-api-key") or request.query.get("key") or bearer
    return bearer


def move_credential(request: http.Request, src: Wire, dst: Wire) -> None:
    """Put the client's own key into the destination wire's slot (a client that brings its
    own key for the destination provider keeps working); injected credentials replace it."""
    token = _client_credential(request, src, _credentials(request.headers))
    drop_headers(request.headers, _CREDENTIAL_HEADERS)
    if "?" in request.path and "key" in request.query:  # no query to parse otherwise
        del request.query["key"]
    if not token:
        return
    if dst == "anthropic" and not token.startswith("sk-ant-oat"):
        slot = (b"x-api-key", token)
    elif dst == "gemini":
        slot = (b"x-goog-api-key", token)
    else:
        slot = (b"authorization", f"Bearer {token}")
    # appended as `headers[name] = value` appends a header the request no longer has (dropped above)
    request.headers.fields = (*request.headers.fields, (slot[0], slot[1].encode("utf-8", "surrogateescape")))


def upstream_path(provider: Provider | None, wire: Wire, model: str | None, stream: bool) -> str:
    """The destination path: the provider's `path` when set (DeepSeek's /anthropic/v1/messages),
    the wire's canonical path otherwise; Gemini's carries model and action."""
    if wire == "gemini":
        base = provider.base_path if provider is not None else "/v1beta/models"
        if not model:
            raise ValueError("model: a Gemini destination needs a model (set dest_model)")
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"{base.rstrip('/')}/{model}:{action}"
    if provider is not None and provider.path is not None:
        return provider.path
    return cv.request_path(wire, model, stream)


@fail_closed  # routes, converts or injects: an exception answers an error, never forwards
class TransformAddon:
    def __init__(self, config: Config, credentials: CredentialHook | None = None) -> None:
        c = config.ccproxy
        self.providers = c.providers
        self.credentials = credentials
        self.rules: list[tuple[str, CompiledRule]] = [
            *(("lightllm.transforms", r) for r in compile_rules(c.lightllm.transforms, "lightllm.transforms")),
            *(("inspector.transforms", r) for r in compile_rules(c.inspector.transforms, "inspector.transforms")),
        ]
        # pretty_host parses the authority: only worth it when some rule matches on the host
        self._match_hosts = any(r.host is not None for _, r in self.rules)

    # ---- request ---------------------------------------------------------------------------

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or flow.metadata.get(meta.CONTROL):
            return
        # The client's request read from its snapshot (line, headers, body): no Request is built.
        method, path, headers = meta.client_request_line(flow)
        ep = classify(method, path, headers)
        if ep is None or ep.kind == "models":
            return
        client_wire: Wire = flow.metadata.get(meta.CLIENT_WIRE) or ep.wire
        dest_wire: Wire = flow.metadata.get(meta.UPSTREAM_WIRE) or client_wire
        if not self.rules and dest_wire == client_wire:
            return  # plain passthrough: nothing below would read the client's request or change the flow
        # Lazy body parsing: with no rule to match, only a conversion reads the model.
        model = model_of(meta.client_request_content(flow), path, ep.wire) if self.rules else None
        hit = self._match(flow, path, headers, model) if self.rules else None
        provider = self.providers.get(flow.metadata.get(meta.PROVIDER) or "")
        dest_model: str | None = None
        if hit is not None:
            where, rule = hit
            r = rule.rule
            named = self.providers.get(r.dest_provider) if r.dest_provider else None
            if named is not None:
                provider, dest_wire = named, named.wire
            action = effective_action(r.action, client_wire, dest_wire)
            flow.metadata[meta.TRANSFORM] = {"rules": where, **describe(rule, action, dest_wire)}
            if action == "passthrough":
                return  # forwarded unchanged
            dest_model = r.dest_model
            if named is not None and r.dest_provider is not None:
                self._route(flow, r.dest_provider, named, path, client_wire)
        if ep.kind == "count_tokens":
            if dest_wire != client_wire:
                self._estimate(flow, ep, path)
            return
        if dest_wire == client_wire:
            if dest_model:
                self._replace_model(flow, ep, dest_model)
        else:
            if not self.rules:
                model = model_of(meta.client_request_content(flow), path, ep.wire)
            if not self._convert(flow, path, client_wire, dest_wire, provider, dest_model, model):
                return
        name = flow.metadata.get(meta.PROVIDER)
        if hit is not None and self.credentials is not None and provider is not None and name:
            result = self.credentials(flow, name, provider)
            if inspect.isawaitable(result):
                await result

    def _match(
        self, flow: http.HTTPFlow, path: str, headers: http.Headers, model: str | None
    ) -> tuple[str, CompiledRule] | None:
        host = (meta.client_request(flow) or flow.request).pretty_host if self._match_hosts else ""
        view = RequestView(host=host, path=path, headers=headers, model=model)
        for where, rule in self.rules:
            if match_rule([rule], view) is not None:
                return where, rule
        return None

    def _route(self, flow: http.HTTPFlow, name: str, provider: Provider, path: str, client_wire: Wire) -> None:
        apply_destination(flow.request, provider, rewrite_path(path, client_wire, provider))
        flow.metadata[meta.PROVIDER] = name
        flow.metadata[meta.UPSTREAM_WIRE] = provider.wire

    def _replace_model(self, flow: http.HTTPFlow, ep: Endpoint, model: str) -> None:
        if ep.wire == "gemini":
            parsed = parse_path(flow.request.path)
            if parsed is not None:
                flow.request.path = flow.request.path.replace(f"/models/{parsed[1]}:", f"/models/{model}:", 1)
            return
        try:
            body = json.loads(flow.request.content or b"")
        except ValueError:
            return
        if isinstance(body, dict):
            body["model"] = model
            flow.request.content = json.dumps(body).encode()

    def _estimate(self, flow: http.HTTPFlow, ep: Endpoint, path: str) -> None:
        try:
            answer = ct.count_tokens_response(json.loads(meta.client_request_content(flow) or b""), ep.wire, path)
        except ValueError as e:
            status, body = lerr.failure(ep.wire, f"ccproxy: cannot estimate tokens: {e}", 400)
            flow.response = _json_response(status, body)
            flow.metadata[meta.ERROR] = str(e)
            return
        flow.response = _json_response(200, answer, {"x-ccproxy-estimate": "true"})
        state = flow.metadata.setdefault(meta.TRANSFORM, {})
        state["action"] = "count_tokens_estimate"

    def _convert(
        self,
        flow: http.HTTPFlow,
        client_path: str,
        client_wire: Wire,
        dest_wire: Wire,
        provider: Provider | None,
        dest_model: str | None,
        client_model: str | None,
    ) -> bool:
        req = flow.request
        try:
            body = json.loads(req.content or b"")
            rendered = cv.convert_request_full(body, client_wire, dest_wire, model=dest_model, path=client_path)
            path = upstream_path(provider, dest_wire, rendered.model, rendered.stream)
        except Exception as e:  # never forward a body the destination cannot read
            message = f"ccproxy: cannot convert this {client_wire} request for a {dest_wire} provider: {e}"
            log.warning("flow %s: %s", flow.id, message, exc_info=not isinstance(e, ValueError))
            status, err = lerr.failure(client_wire, message, 400)
            flow.response = _json_response(status, err)
            flow.metadata[meta.ERROR] = message
            return False
        if not flow.metadata.get(meta.CREDENTIAL_INJECTED):
            move_credential(req, client_wire, dest_wire)
        drop_headers(req.headers, _DROPPED[(client_wire, dest_wire)])
        if dest_wire == "anthropic" and "anthropic-version" not in req.headers:
            req.headers["anthropic-version"] = "2023-06-01"
        req.path = path
        req.headers["content-type"] = "application/json"
        req.content = json.dumps(rendered.body).encode()
        flow.metadata[meta.UPSTREAM_WIRE] = dest_wire
        state = flow.metadata.setdefault(meta.TRANSFORM, {})
        state.update(
            action="transform",
            client_wire=client_wire,
            upstream_wire=dest_wire,
            client_model=client_model,
            upstream_model=rendered.model,
            stream=rendered.stream,
            upstream_path=path,
        )
        return True

    # ---- response --------------------------------------------------------------------------

    def response(self, flow: http.HTTPFlow) -> None:
        state = flow.metadata.get(meta.TRANSFORM)
        resp = flow.response
        if not isinstance(state, dict) or state.get("action") != "transform" or resp is None:
            return
        if resp.stream or resp.headers.get("content-type", "").lower().startswith("text/event-stream"):
            return  # the streaming addon converts event streams
        client_wire: Wire | None = state.get("client_wire")
        upstream_wire: Wire | None = state.get("upstream_wire")
        if client_wire is None or upstream_wire is None:
            return  # the request was never converted (refused with a 400 already)
        # setdefault: an earlier addon (Code Assist unwrap) may have kept the rawer original already
        flow.metadata.setdefault(meta.UPSTREAM_RESPONSE, resp.get_state())
        kept = lerr.keep_headers(header_map(resp.headers), client_wire)
        if resp.status_code >= 400:
            status, body, _ = lerr.convert_error(resp.status_code, resp.content or b"", upstream_wire, client_wire)
        else:
            try:
                upstream_body = json.loads(resp.content or b"")
                body = cv.convert_response(upstream_body, upstream_wire, client_wire)
                status = resp.status_code
                rid = ids.upstream_id(upstream_wire, upstream_body)
                if rid is not None:
                    flow.metadata[meta.UPSTREAM_ID] = rid
            except Exception as e:  # never pass the untransformed body on
                message = f"ccproxy: cannot convert the {upstream_wire} response for a {client_wire} client: {e}"
                log.warning("flow %s: %s", flow.id, message, exc_info=not isinstance(e, ValueError))
                flow.metadata[meta.ERROR] = message
                status, body = lerr.failure(client_wire, message)
        out = _json_response(status, body, kept)
        flow.response = out
        flow.metadata[meta.CLIENT_RESPONSE] = out.get_state()
