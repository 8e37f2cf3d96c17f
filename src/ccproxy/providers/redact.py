"""Redaction of resolved credentials: the exact values ccproxy injected, wherever text
about a flow or an error is produced (logs, /flows, error bodies)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

REDACTED = "<redacted>"
# Shorter values are not credentials and would redact ordinary words.
_MIN_SECRET = 8


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted((s for s in secrets if len(s) >= _MIN_SECRET), key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def mask(secret: str) -> str:
    """A hint for logs that tells two tokens apart without revealing either."""
    if len(secret) < 16:
        return REDACTED
    return f"{secret[:4]}...{secret[-2:]} ({len(secret)} chars)"


class SecretFilter(logging.Filter):
    """Replaces known secret values in every record passing a handler."""

    def __init__(self, secrets: Callable[[], Iterable[str]]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = list(self._secrets())
        if not secrets:
            return True
        message = record.getMessage()
        cleaned = redact(message, secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_text:
            record.exc_text = redact(record.exc_text, secrets)
        return True


def install_log_filter(secrets: Callable[[], Iterable[str]]) -> SecretFilter:
    """Attach to every root handler (filters on loggers do not apply to child loggers' records)."""
    f = SecretFilter(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(f)
    return f


def remove_log_filter(f: SecretFilter) -> None:
    for handler in logging.getLogger().handlers:
        handler.removeFilter(f)
