"""Errors a hook raises to stop the request instead of being logged and skipped."""

from __future__ import annotations


class HookAbort(Exception):
    """The pipeline lets this one through (every other hook error is logged and swallowed); the
    stage addon answers the client with `status` in its wire format. Subclassed by the layers
    above (providers.errors.AuthConfigError), so the pipeline needs none of them."""

    def __init__(self, message: str, *, status: int = 502) -> None:
        super().__init__(message)
        self.status = status
