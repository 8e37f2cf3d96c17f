"""gemini_cli: Gemini traffic of a `google_oauth` provider goes to the Code Assist API.

gemini-cli's Google login is good for Code Assist (`cloudcode-pa`), not for the public
generativelanguage API, so a generateContent / streamGenerateContent / countTokens request is
wrapped in the `v1internal` envelope and sent to `/v1internal:{action}` (`?alt=sse` when
streaming). The project comes from a one-time `loadCodeAssist` prewarm per credential. Bodies
already in the envelope pass through. The answers are unwrapped on the way back inside the
Gemini stream intake (see lightllm.stream.gemini and addons.code_assist). The client's
user-agent is left as it is: ccproxy never poses as gemini-cli.
"""

from __future__ import annotations

import uuid
from typing import Any

from ccproxy.lightllm import code_assist as ca
from ccproxy.pipeline import Context, hook
from ccproxy.providers.code_assist import CodeAssistProjects, Endpoint
from ccproxy.providers.errors import AuthConfigError


def targets_code_assist(ctx: Context) -> bool:
    """Flows routed to a gemini provider whose credential is gemini-cli's Google login."""
    registry = ctx.services.get("credentials")
    provider = registry.providers.get(ctx.provider or "") if registry is not None else None
    if provider is None or provider.wire != "gemini" or provider.auth is None or provider.auth.type != "google_oauth":
        return False
    # a client that speaks Code Assist itself has no wire ccproxy classifies
    return ctx.metadata.get("upstream_wire") == "gemini" or ca.is_code_assist_path(ctx.request.path)


def _point_at(ctx: Context, scheme: str, hostport: str, path: str) -> None:
    req = ctx.request
    host, _, port = hostport.partition(":")
    req.scheme = scheme
    req.host = host
    req.port = int(port) if port else (443 if scheme == "https" else 80)
    req.path = path
    if req.http_version.startswith(("HTTP/2", "HTTP/3")):
        req.authority = hostport
        req.headers.pop("host", None)
    else:
        req.headers["host"] = hostport
    # the OAuth bearer is the credential; a stray API key or its query slot never goes along
    req.headers.pop("x-goog-api-key", None)


@hook(
    reads=["request.path", "request.body", "request.headers.authorization", "metadata.session_id", "metadata.provider"],
    writes=["request.path", "request.host", "request.body", "request.headers", "metadata.code_assist"],
    guard=targets_code_assist,
)
async def gemini_cli(
    ctx: Context, host: str = ca.DEFAULT_HOST, scheme: str = "https", project: str | None = None
) -> None:
    """Code Assist v1internal envelope, path rewrite (incl. ?alt=sse) and one-time project prewarm."""
    req = ctx.request
    body = ctx.body
    if ca.is_code_assist_path(req.path) or ca.is_wrapped(body):
        # the client speaks Code Assist itself: same host, same body
        action = ca.action_of(req.path) or ""
        path = req.path if ca.is_code_assist_path(req.path) else ca.target_path(action or "generateContent", False)
        _point_at(ctx, scheme, host, path)
        ctx.set("metadata.code_assist", {"action": action, "wrapped_by": "client"})
        return
    target = ca.public_target(req.path)
    if target is None or not isinstance(body, dict):
        return
    model, action, stream = target
    projects: CodeAssistProjects | None = ctx.services.get("code_assist")
    if projects is None:
        raise AuthConfigError("ccproxy: gemini_cli needs the daemon's Code Assist project cache (run it in the daemon)")
    name = ctx.provider or ""
    proj: str | None = None
    if action != "countTokens":
        hostname, _, port = host.partition(":")
        endpoint = Endpoint(scheme, hostname, int(port) if port else (443 if scheme == "https" else 80))
        proj = await projects.project(name, endpoint, req.headers.get("authorization", ""), project)
    session = ca.session_id_for(body, ctx.get("metadata.session_id"))
    ctx.body = ca.wrap_request(body, model, action, project=proj, session_id=session, prompt_id=uuid.uuid4().hex)
    path = ca.target_path(action, stream)
    if extra := ca.strip_query(req.path):
        path += ("&" if "?" in path else "?") + extra
    _point_at(ctx, scheme, host, path)
    info: dict[str, Any] = {"action": action, "model": model, "project": proj, "session_id": session}
    ctx.set("metadata.code_assist", info)
