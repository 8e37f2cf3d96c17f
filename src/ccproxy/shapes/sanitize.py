"""What must never be kept in a shape: credentials, cookies, account and user ids.

`sanitize_request` removes them before a captured request becomes a shape; `find_secrets`
is the audit's check that none is left (in headers, query or anywhere in the JSON body).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from mitmproxy import http

from ccproxy.flows.serialize import SECRET_HEADERS
from ccproxy.providers.sentinel import PREFIX as SENTINEL_PREFIX

# Besides the credential headers: OpenAI's account header (codex_oauth), and ccproxy's own.
ACCOUNT_HEADERS = frozenset({"chatgpt-account-id", "openai-organization", "openai-project", "x-goog-user-project"})
SECRET_QUERY = frozenset({"key", "api_key", "access_token"})
# Body keys that identify the user or account (Anthropic `metadata.user_id` carries the
# account and device ids; Codex sends account ids).
_ID_KEY = re.compile(r"^(user_id|account_?id|account_?uuid|organization_?id|device_id)$", re.IGNORECASE)
# Credential-looking strings, wherever they are.
_SECRET_TEXT = re.compile(
    r"sk-ant-[A-Za-z0-9_-]{8,}|sk-[A-Za-z0-9_-]{20,}|AIza[0-9A-Za-z_-]{30,}|ya29\.[0-9A-Za-z_-]{10,}"
    r"|Bearer\s+[A-Za-z0-9._~+/=-]{10,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\."
)


def _secret_header(name: str, extra: Iterable[str]) -> bool:
    name = name.lower()
    return (
        name in SECRET_HEADERS
        or name == "api-key"
        or name in ACCOUNT_HEADERS
        or name.startswith("x-ccproxy-")
        or name in {e.lower() for e in extra}
    )


def _scrub(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _scrub(v) for k, v in node.items() if not _ID_KEY.match(str(k))}
    if isinstance(node, list):
        return [_scrub(v) for v in node]
    return node


def sanitize_request(request: http.Request, extra_headers: Iterable[str] = ()) -> http.Request:
    """A copy of `request` with every credential, cookie and user/account id removed."""
    clean = request.copy()
    extra = list(extra_headers)
    for name in {k for k in clean.headers if _secret_header(k, extra)}:
        del clean.headers[name]
    for name in [k for k in clean.query if k.lower() in SECRET_QUERY]:
        del clean.query[name]
    body = json_body(clean)
    if isinstance(body, dict):
        clean.set_content(json.dumps(_scrub(body), ensure_ascii=False).encode())
    return clean


def json_body(request: http.Request) -> Any:
    try:
        return json.loads(request.get_content(strict=False) or b"")
    except ValueError:
        return None


def _walk(node: Any, path: str = "body") -> Iterator[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}.{i}")


def find_secrets(request: http.Request, extra_headers: Iterable[str] = ()) -> list[str]:
    """Where a secret is left, as `headers.x-api-key`, `query.key`, `body.metadata.user_id`."""
    found: list[str] = []
    extra = list(extra_headers)
    for name, value in request.headers.items(multi=True):
        if (_secret_header(name, extra) and value) or _SECRET_TEXT.search(value) or SENTINEL_PREFIX in value:
            found.append(f"headers.{name.lower()}")
    for name, value in request.query.items(multi=True):
        if name.lower() in SECRET_QUERY or _SECRET_TEXT.search(value) or SENTINEL_PREFIX in value:
            found.append(f"query.{name}")
    body = json_body(request)
    for path, node in _walk(body):
        names_an_id = path != "body" and _ID_KEY.match(path.rsplit(".", 1)[-1]) and node not in (None, "")
        looks_secret = isinstance(node, str) and (_SECRET_TEXT.search(node) or SENTINEL_PREFIX in node)
        if names_an_id or looks_secret:
            found.append(path)
    return found
