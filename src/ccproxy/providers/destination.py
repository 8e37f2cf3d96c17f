"""Pointing a request at a provider: host, port, scheme and path rewriting."""

from __future__ import annotations

from mitmproxy import http

from ccproxy import mitm_compat as compat
from ccproxy.config.models import DEFAULT_PATHS, Provider
from ccproxy.lightllm.ir import Wire


def provider_for_wire(wire: Wire, providers: dict[str, Provider]) -> tuple[str, Provider] | None:
    """The provider a request of this wire format goes to when nothing else routes it:
    the one named like the wire, else the first of that type."""
    named = providers.get(wire)
    if named is not None and named.wire == wire:
        return wire, named
    for name, provider in providers.items():
        if provider.wire == wire:
            return name, provider
    return None


def rewrite_path(path: str, client_wire: Wire | None, provider: Provider) -> str:
    """Map the client's path onto the provider's: the wire's canonical prefix is replaced
    by the provider's `path` (DeepSeek serves Messages under /anthropic/v1/messages)."""
    if client_wire is None or client_wire != provider.wire:
        return path
    canonical = DEFAULT_PATHS[client_wire]
    base = provider.base_path
    if base == canonical or not path.startswith(canonical):
        return path
    return base + path[len(canonical) :]


def apply_destination(request: http.Request, provider: Provider, path: str | None = None) -> None:
    """Point the request at the provider, as setting scheme, host and port on it would, plus the
    Host header (HTTP/1) or :authority (HTTP/2, HTTP/3), each written once."""
    compat.retarget(request, provider.scheme, provider.hostname, provider.port)  # Host: set below
    default_port = 443 if provider.scheme == "https" else 80
    authority = provider.hostname if provider.port == default_port else f"{provider.hostname}:{provider.port}"
    if path is not None:
        request.path = path
    if request.http_version.startswith("HTTP/2") or request.http_version.startswith("HTTP/3"):
        request.authority = authority
        request.headers.pop("host", None)
    else:
        request.headers["host"] = authority  # an absolute-form authority: retarget set it
