"""The typed view of one mitmproxy flow that hooks read and write.

Header, URL and metadata writes land on the flow immediately. Body writes land
on a parsed copy that `commit()` re-serialises once, at the end of the stage, so
ten hooks touching the body cost one json.dumps rather than ten.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, MutableMapping
from functools import lru_cache
from typing import Any, Literal

from mitmproxy import http

from ccproxy.flows import meta
from ccproxy.pipeline import paths

META_PREFIX = meta.PREFIX
Phase = Literal["request", "response"]
_MISSING = object()


class ContextError(Exception):
    """A hook asked the Context for something the flow cannot provide."""


@lru_cache(maxsize=1024)
def _resolve(path: str) -> tuple[str, str]:
    """(root, rest) of a declared or accessed path; cached because hooks hit the same few paths."""
    canon = paths.canonical(path)
    root = paths.root_of(canon)
    return root, canon[len(root) + 1 :]


def _step(node: Any, seg: str) -> Any:
    if isinstance(node, dict):
        return node.get(seg, _MISSING)
    if isinstance(node, list) and seg.lstrip("-").isdigit():
        i = int(seg)
        return node[i] if -len(node) <= i < len(node) else _MISSING
    return _MISSING


# glom's path semantics (dict keys, integer list indices) by hand: a glom lookup costs
# ~28 us, which alone would dominate a pipeline of ten hooks.
def path_get(node: Any, path: str) -> Any:
    for seg in path.split("."):
        node = _step(node, seg)
        if node is _MISSING:
            break
    return node


def path_set(node: Any, path: str, value: Any) -> None:
    """Assign, creating missing dicts on the way (as glom's assign with missing=dict)."""
    *parents, last = path.split(".")
    for seg in parents:
        nxt = _step(node, seg)
        if nxt is _MISSING:
            if not isinstance(node, dict):
                raise ContextError(f"cannot create {seg!r} in a {type(node).__name__} (path {path!r})")
            nxt = node[seg] = {}
        node = nxt
    if isinstance(node, dict):
        node[last] = value
    elif isinstance(node, list) and last.lstrip("-").isdigit() and -len(node) <= int(last) < len(node):
        node[int(last)] = value
    elif isinstance(node, list) and last == str(len(node)):
        node.append(value)
    else:
        raise ContextError(f"cannot set {last!r} on a {type(node).__name__} (path {path!r})")


def path_delete(node: Any, path: str) -> bool:
    *parents, last = path.split(".")
    parent = path_get(node, ".".join(parents)) if parents else node
    if isinstance(parent, dict) and last in parent:
        del parent[last]
        return True
    if isinstance(parent, list) and last.lstrip("-").isdigit() and -len(parent) <= int(last) < len(parent):
        del parent[int(last)]
        return True
    return False


class MetadataView(MutableMapping[str, Any]):
    """`flow.metadata` restricted to ccproxy's keys, without the `ccproxy.` prefix."""

    def __init__(self, flow: http.HTTPFlow) -> None:
        self._meta = flow.metadata

    def __getitem__(self, key: str) -> Any:
        return self._meta[META_PREFIX + key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._meta[META_PREFIX + key] = value

    def __delitem__(self, key: str) -> None:
        del self._meta[META_PREFIX + key]

    def __iter__(self) -> Iterator[str]:
        keys = [k for k in self._meta if isinstance(k, str) and k.startswith(META_PREFIX)]
        return (k[len(META_PREFIX) :] for k in keys)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _Body:
    """Lazily parsed JSON body of a request or response, with a dirty flag."""

    __slots__ = ("dirty", "exposed", "loaded", "message", "value")

    def __init__(self, message: http.Message | None) -> None:
        self.message = message
        self.value: Any = None
        self.loaded = False
        self.dirty = False
        # A dict or list of the body was handed to a hook, which may change it in place.
        self.exposed = False

    def hand_out(self, value: Any) -> Any:
        if isinstance(value, dict | list):
            self.exposed = True
        return value

    def get(self) -> Any:
        if not self.loaded:
            self.loaded = True
            self.value = _parse_json(self.message)
        return self.value

    def set(self, value: Any) -> None:
        self.loaded = True
        self.value = value
        self.dirty = True

    def container(self, what: str) -> Any:
        body = self.get()
        if not isinstance(body, dict | list):
            raise ContextError(f"{what} is not a JSON object, cannot write into it")
        return body

    def commit(self) -> bool:
        if not self.dirty or self.message is None:
            return False
        # Compact separators: what SDKs send; keeps Content-Length close to the original.
        self.message.content = json.dumps(self.value, ensure_ascii=False, separators=(",", ":")).encode()
        self.dirty = False
        return True


def _parse_json(message: http.Message | None) -> Any:
    if message is None:
        return None
    raw = message.get_content(strict=False)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


class Context:
    """What a hook sees: glom-style dotted paths over one flow (see ccproxy.pipeline.paths)."""

    def __init__(
        self, flow: http.HTTPFlow, phase: Phase = "request", services: Mapping[str, Any] | None = None
    ) -> None:
        self.flow = flow
        self.phase: Phase = phase
        # The daemon's shared objects a hook may need (e.g. "credentials", the credential
        # registry inject_auth uses), handed in explicitly by the stage addon.
        self.services: Mapping[str, Any] = services or {}
        self.metadata = MetadataView(flow)
        self._req_body = _Body(flow.request)
        self._resp_body = _Body(flow.response)

    # ---- generic path access -------------------------------------------------
    def get(self, path: str, default: Any = None) -> Any:
        root, rest = _resolve(path)
        value = self._get(root, rest)
        return default if value is _MISSING or value is None else value

    def set(self, path: str, value: Any) -> None:
        root, rest = _resolve(path)
        if root in paths.READ_ONLY:
            raise ContextError(f"{root} is read-only")
        req = self.flow.request
        match root:
            case "request.method":
                req.method = str(value)
            case "request.host":
                req.host = str(value)
            case "request.path":
                req.path = str(value)
            case "request.url":
                req.url = str(value)
            case "request.scheme":
                req.scheme = str(value)
            case "request.port":
                req.port = int(value)
            case "request.headers" | "response.headers":
                self._set_headers(root, rest, value)
            case "request.body":
                self._set_body(self._req_body, "request body", rest, value)
            case "response.body":
                self._response("write response.body")
                self._set_body(self._resp_body, "response body", rest, value)
            case "response.status_code":
                self._response("write response.status_code").status_code = int(value)
            case "metadata":
                self._set_meta(rest, value)

    def delete(self, path: str) -> None:
        root, rest = _resolve(path)
        match root:
            case "request.headers" | "response.headers" if rest:
                headers = self._headers(root)
                if rest in headers:
                    del headers[rest]
            case "request.body" | "response.body" if rest:
                body = self._req_body if root == "request.body" else self._resp_body
                if path_delete(body.get(), rest):
                    body.dirty = True
            case "metadata" if rest:
                key, _, sub = rest.partition(".")
                if not sub:
                    self.flow.metadata.pop(META_PREFIX + key, None)
                else:
                    path_delete(self.flow.metadata.get(META_PREFIX + key), sub)
            case _:
                raise ContextError(f"cannot delete {path!r}")

    def mark_written(self, path: str) -> None:
        """A hook declared a write here; if it held part of the body it may have changed it in place."""
        root, _ = _resolve(path)
        if root == "request.body" and self._req_body.exposed:
            self._req_body.dirty = True
        elif root == "response.body" and self._resp_body.exposed:
            self._resp_body.dirty = True

    def commit(self) -> bool:
        """Re-serialise the bodies that changed. Returns True if anything was written."""
        wrote = self._req_body.commit()
        return self._resp_body.commit() or wrote

    # ---- typed accessors ----------------------------------------------------
    @property
    def flow_id(self) -> str:
        return self.flow.id

    @property
    def request(self) -> http.Request:
        return self.flow.request

    @property
    def response(self) -> http.Response | None:
        return self.flow.response

    @property
    def headers(self) -> http.Headers:
        return self.flow.request.headers

    @property
    def body(self) -> Any:
        return self._req_body.hand_out(self._req_body.get())

    @body.setter
    def body(self, value: Any) -> None:
        self._req_body.set(value)

    @property
    def model(self) -> str | None:
        value = self.get("request.body.model")
        return value if isinstance(value, str) else None

    @model.setter
    def model(self, value: str) -> None:
        self.set("request.body.model", value)

    @property
    def messages(self) -> list[Any] | None:
        value = self.get("request.body.messages")
        return value if isinstance(value, list) else None

    @property
    def system(self) -> str | list[Any] | None:
        value = self.get("request.body.system")
        return value if isinstance(value, str | list) else None

    @property
    def tools(self) -> list[Any] | None:
        value = self.get("request.body.tools")
        return value if isinstance(value, list) else None

    @property
    def provider(self) -> str | None:
        value = self.flow.metadata.get(META_PREFIX + "provider")
        return value if isinstance(value, str) else None

    # ---- internals -----------------------------------------------------------
    def _get(self, root: str, rest: str) -> Any:
        req = self.flow.request
        match root:
            case "request.method":
                return req.method
            case "request.host":
                return req.host
            case "request.path":
                return req.path
            case "request.url":
                return req.url
            case "request.scheme":
                return req.scheme
            case "request.port":
                return req.port
            case "flow.id":
                return self.flow.id
            case "request.headers" | "response.headers":
                if root == "response.headers" and self.flow.response is None:
                    return _MISSING
                headers = self._headers(root)
                if not rest:
                    return {k.lower(): v for k, v in headers.items()}
                return headers.get(rest, _MISSING)
            case "request.body" | "response.body":
                holder = self._req_body if root == "request.body" else self._resp_body
                body = holder.get()
                return holder.hand_out(body if not rest else path_get(body, rest))
            case "response.status_code":
                return self.flow.response.status_code if self.flow.response else _MISSING
            case "metadata":
                if not rest:
                    return dict(self.metadata)
                key, _, sub = rest.partition(".")
                value = self.flow.metadata.get(META_PREFIX + key, _MISSING)
                return value if not sub or value is _MISSING else path_get(value, sub)
        raise ContextError(f"unknown path root {root!r}")

    def _response(self, what: str) -> http.Response:
        if self.flow.response is None:
            raise ContextError(f"cannot {what}: the flow has no response yet")
        return self.flow.response

    def _headers(self, root: str) -> http.Headers:
        if root == "request.headers":
            return self.flow.request.headers
        return self._response(f"use {root}").headers

    def _set_headers(self, root: str, rest: str, value: Any) -> None:
        headers = self._headers(root)
        if not rest:
            if not isinstance(value, dict):
                raise ContextError(f"{root} must be set to a dict of name -> value")
            headers.clear()
            for name, val in value.items():
                headers[str(name)] = str(val)
        elif value is None:
            if rest in headers:
                del headers[rest]
        else:
            headers[rest] = str(value)

    @staticmethod
    def _set_body(body: _Body, what: str, rest: str, value: Any) -> None:
        if not rest:
            body.set(value)
            return
        path_set(body.container(what), rest, value)
        body.dirty = True

    def _set_meta(self, rest: str, value: Any) -> None:
        if not rest:
            raise ContextError("write metadata.<key>, not metadata itself")
        key, _, sub = rest.partition(".")
        if not sub:
            self.flow.metadata[META_PREFIX + key] = value
            return
        current = self.flow.metadata.setdefault(META_PREFIX + key, {})
        if not isinstance(current, dict):
            raise ContextError(f"metadata.{key} is not a dict, cannot write {rest!r}")
        path_set(current, sub, value)
