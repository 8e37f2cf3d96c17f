"""Errors the providers layer raises through the hook pipeline."""

from __future__ import annotations

from ccproxy.pipeline.errors import HookAbort


class AuthConfigError(HookAbort):
    """A provider's credential cannot be resolved.

    The pipeline lets this one through (every other hook error is logged and
    swallowed) because forwarding the request unauthenticated would only earn a
    confusing 401 upstream; the request fails here with a clear message instead.
    """

    def __init__(self, message: str, *, provider: str | None = None, status: int = 502, detail: str = "") -> None:
        super().__init__(message, status=status)
        self.provider = provider
        # For the log only (an auth command's stderr may echo a secret): never in a client
        # error, /flows or anything else a request can read.
        self.detail = detail

    @property
    def log_text(self) -> str:
        return f"{self}: {self.detail}" if self.detail else str(self)
