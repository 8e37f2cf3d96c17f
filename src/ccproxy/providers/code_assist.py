"""Code Assist prewarm: learn the user's Code Assist project once per credential, then cache it.

`loadCodeAssist` answers the project when the account is set up; otherwise `onboardUser` (a
long-running operation, polled until done) assigns one in the default tier. ccproxy sends its
own user-agent on these calls; it never poses as gemini-cli.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from ccproxy import __version__
from ccproxy.lightllm.code_assist import VERSION
from ccproxy.providers.errors import AuthConfigError
from ccproxy.transport.upstream import UpstreamClient

log = logging.getLogger(__name__)

USER_AGENT = f"ccproxy/{__version__}"
_METADATA = {"ideType": "IDE_UNSPECIFIED", "platform": "PLATFORM_UNSPECIFIED", "pluginType": "GEMINI"}


@dataclass(frozen=True)
class Endpoint:
    scheme: str
    host: str
    port: int


def project_of(answer: Any) -> str | None:
    """The project id in a loadCodeAssist answer or a finished onboardUser operation."""
    if not isinstance(answer, dict):
        return None
    value = answer.get("cloudaicompanionProject")
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, str) and value:
        return value
    return project_of(answer.get("response")) if isinstance(answer.get("response"), dict) else None


def default_tier(answer: dict[str, Any]) -> str:
    tiers = [t for t in answer.get("allowedTiers") or [] if isinstance(t, dict)]
    chosen = next((t for t in tiers if t.get("isDefault")), tiers[0] if tiers else None)
    tier_id = chosen.get("id") if chosen else None
    return tier_id if isinstance(tier_id, str) and tier_id else "free-tier"


@dataclass
class CodeAssistProjects:
    """Project ids by credential (provider name); one prewarm at a time per credential."""

    upstream: UpstreamClient
    poll_interval: float = 2.0
    poll_attempts: int = 10
    _projects: dict[str, str] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def project(self, key: str, endpoint: Endpoint, authorization: str, configured: str | None) -> str:
        if (hit := self._projects.get(key)) is not None:
            return hit
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if (hit := self._projects.get(key)) is not None:
                return hit
            project = await self._prewarm(key, endpoint, authorization, configured)
            self._projects[key] = project
            log.info("code assist: provider %r uses project %s", key, project)
            return project

    async def _call(self, endpoint: Endpoint, method: str, authorization: str, body: dict[str, Any]) -> Any:
        headers = {"authorization": authorization, "user-agent": USER_AGENT}
        try:
            status, answer = await self.upstream.post_json(
                endpoint.scheme, endpoint.host, endpoint.port, f"/{VERSION}:{method}", headers, body
            )
        except Exception as e:  # httpx errors: the flow gets a 502 naming the call
            raise AuthConfigError(
                f"ccproxy: Code Assist {method} at {endpoint.host} failed: {type(e).__name__}: {e}", status=502
            ) from e
        if status >= 400:
            error = answer.get("error") if isinstance(answer, dict) else None
            message = error.get("message") if isinstance(error, dict) else None
            raise AuthConfigError(
                f"ccproxy: Code Assist {method} at {endpoint.host} answered {status}: {message or 'no message'}",
                status=401 if status in (401, 403) else 502,
            )
        return answer

    async def _prewarm(self, key: str, endpoint: Endpoint, authorization: str, configured: str | None) -> str:
        body: dict[str, Any] = {"metadata": dict(_METADATA)}
        if configured:
            body["cloudaicompanionProject"] = configured
            body["metadata"]["duetProject"] = configured
        answer = await self._call(endpoint, "loadCodeAssist", authorization, body)
        if isinstance(answer, dict) and answer.get("currentTier") and (found := project_of(answer) or configured):
            return found
        tier = default_tier(answer if isinstance(answer, dict) else {})
        onboard: dict[str, Any] = {"tierId": tier, "metadata": dict(_METADATA)}
        if configured:
            onboard["cloudaicompanionProject"] = configured
        for _ in range(self.poll_attempts):
            op = await self._call(endpoint, "onboardUser", authorization, onboard)
            if isinstance(op, dict) and op.get("done"):
                found = project_of(op) or configured
                if found:
                    return found
                break
            await asyncio.sleep(self.poll_interval)
        raise AuthConfigError(
            f"ccproxy: Code Assist onboarding for provider {key!r} gave no project "
            "(set `project` in the gemini_cli hook params, or log in with gemini-cli once)",
            provider=key,
            status=502,
        )
