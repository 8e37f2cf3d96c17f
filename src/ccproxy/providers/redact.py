"""Redaction, in one place: which headers and query parameters carry secrets (every output
that shows a flow -- /flows, HAR, logs, MCP, spans, the viewer -- asks here), and the exact
values ccproxy injected, wherever text about a flow or an error is produced."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from urllib.parse import unquote_plus

from ccproxy.access.token import TOKEN_HEADER
from ccproxy.providers.sentinel import HEADER_SLOTS, QUERY_SLOTS

REDACTED = "<redacted>"

# Lowercase header names whose values are credentials: every slot an SDK puts a key in
# (Azure's `api-key` included), cookies, proxy credentials and ccproxy's own token.
SECRET_HEADERS: frozenset[str] = frozenset(
    {"authorization", "x-api-key", "x-goog-api-key", "api-key", "cookie", "set-cookie", "proxy-authorization"}
    | set(HEADER_SLOTS)
    | {TOKEN_HEADER}
)
# Query parameters that carry credentials (Gemini's `?key=`, OAuth access tokens in URLs).
SECRET_QUERY: frozenset[str] = frozenset({"key", "api_key", "api-key", "access_token", "token"} | set(QUERY_SLOTS))


def is_secret_header(name: str) -> bool:
    return name.lower() in SECRET_HEADERS


def is_secret_param(name: str) -> bool:
    return unquote_plus(name).lower() in SECRET_QUERY


def redact_query(query: str) -> str:
    """A raw query string with the values of secret parameters replaced; the rest byte for byte."""
    parts = []
    for pair in query.split("&"):
        name, sep, _value = pair.partition("=")
        parts.append(f"{name}={REDACTED}" if sep and is_secret_param(name) else pair)
    return "&".join(parts)


def redact_target(target: str) -> str:
    """A path or URL with secret query values replaced (`/v1beta/...?key=<redacted>&alt=sse`)."""
    head, sep, query = target.partition("?")
    if not sep:
        return target
    query, hash_sep, fragment = query.partition("#")
    return f"{head}?{redact_query(query)}{hash_sep}{fragment}"


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
