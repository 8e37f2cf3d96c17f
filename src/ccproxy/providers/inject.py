"""inject_auth as plain functions: sentinel key -> route to the provider named in it
and put the provider's real credential in its slot.

The sentinel never leaves: it is stripped on success, and on any failure the flow
is answered locally in the client's wire format.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from mitmproxy import http

from ccproxy.answers import error_response
from ccproxy.config.models import Provider
from ccproxy.flows import meta
from ccproxy.lightllm.detect import routing_wire
from ccproxy.lightllm.ir import Wire
from ccproxy.providers.auth import Credential
from ccproxy.providers.destination import apply_destination, rewrite_path
from ccproxy.providers.errors import AuthConfigError
from ccproxy.providers.redact import redact
from ccproxy.providers.registry import CredentialRegistry
from ccproxy.providers.sentinel import PREFIX, credential_slot, find_sentinel, strip_sentinels

log = logging.getLogger(__name__)


def slot_for(provider: Provider) -> tuple[str, str]:
    return credential_slot(provider.type, provider.header, provider.auth.type if provider.auth else None)


def put_credential(request: http.Request, provider: Provider, cred: Credential) -> str:
    """Write the credential into the provider's slot; returns the header name used."""
    header, prefix = slot_for(provider)
    request.headers[header] = prefix + cred.token
    for name, value in cred.headers.items():
        request.headers[name] = value
    return header


def client_wire_of(flow: http.HTTPFlow) -> Wire | None:
    wire: Wire | None = flow.metadata.get(meta.CLIENT_WIRE)
    return wire or routing_wire(flow.request.method, flow.request.path, flow.request.headers)


def unknown_provider_message(name: str, providers: dict[str, Provider]) -> str:
    known = ", ".join(sorted(providers)) or "none"
    return (
        f"ccproxy: the sentinel key {PREFIX}{name} names provider {name!r}, which is not configured "
        f"(configured providers: {known})"
    )


async def inject_auth(flow: http.HTTPFlow, registry: CredentialRegistry) -> bool:
    """Returns True when a credential was injected; False for flows without a sentinel
    (a client that sends its own key talks to the provider with it).

    Raises AuthConfigError (status 401 for an unknown provider, the source's status
    otherwise) after removing the sentinel: the caller answers the flow locally.
    """
    hit = find_sentinel(flow.request)
    if hit is None:
        return False
    providers = registry.providers
    provider = providers.get(hit.provider)
    if provider is None:
        strip_sentinels(flow.request)
        raise AuthConfigError(unknown_provider_message(hit.provider, providers), provider=hit.provider, status=401)
    try:
        cred = await registry.resolve(hit.provider)
    except AuthConfigError as e:
        strip_sentinels(flow.request)
        message = redact(f"ccproxy: {e}", registry.secrets())
        detail = redact(e.detail, registry.secrets())
        raise AuthConfigError(message, provider=hit.provider, status=e.status, detail=detail) from e
    wire = client_wire_of(flow)
    strip_sentinels(flow.request)
    apply_destination(flow.request, provider, rewrite_path(flow.request.path, wire, provider))
    header = put_credential(flow.request, provider, cred)
    flow.metadata[meta.PROVIDER] = hit.provider
    if wire is not None:
        flow.metadata[meta.UPSTREAM_WIRE] = provider.type
    flow.metadata[meta.CREDENTIAL_INJECTED] = True
    flow.metadata[meta.CREDENTIAL_HEADER] = header
    return True


async def inject_for_route(flow: http.HTTPFlow, registry: CredentialRegistry, name: str, provider: Provider) -> None:
    """Credential for a provider that a transform rule routed the flow to (`dest_provider`).

    A credential injected earlier for another provider (by sentinel) is removed first: it
    must never reach a different provider. On an auth failure the flow is answered locally.
    """
    previous = flow.metadata.get(meta.CREDENTIAL_HEADER) if flow.metadata.get(meta.CREDENTIAL_INJECTED) else None
    if isinstance(previous, str):
        flow.request.headers.pop(previous, None)
        flow.metadata[meta.CREDENTIAL_INJECTED] = False
        flow.metadata.pop(meta.CREDENTIAL_HEADER, None)
    if registry.source(name) is None:
        if previous:
            log.warning("flow %s: routed to provider %r, which has no auth: no credential sent", flow.id, name)
        return
    try:
        cred = await registry.resolve(name)
    except AuthConfigError as e:
        message = redact(f"ccproxy: {e}", registry.secrets())
        log.error("flow %s: auth for provider %r failed: %s", flow.id, name, redact(e.log_text, registry.secrets()))
        strip_sentinels(flow.request)
        flow.metadata[meta.ERROR] = message
        flow.response = error_response(client_wire_of(flow), e.status, message)
        return
    flow.metadata[meta.CREDENTIAL_HEADER] = put_credential(flow.request, provider, cred)
    flow.metadata[meta.CREDENTIAL_INJECTED] = True


def route_injector(
    registry: CredentialRegistry,
) -> Callable[[http.HTTPFlow, str, Provider], Awaitable[None]]:
    """The credential hook TransformAddon calls after a rule picked `dest_provider`."""

    async def inject(flow: http.HTTPFlow, name: str, provider: Provider) -> None:
        await inject_for_route(flow, registry, name, provider)

    return inject
