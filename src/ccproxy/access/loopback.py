"""The CLI's HTTP client for the daemon's control endpoints (``/flows``, ``/health``).

Standard library only: importing httpx (and what its package ``__init__`` pulls in) costs
more than the whole of `ccproxy flows list` otherwise (bench/cli_startup.py), and a plain
HTTP/1.1 request to a loopback port needs none of its features. No proxy is consulted (the
daemon is local; a user's HTTP(S)_PROXY must not capture it) and nothing is decompressed
(no Accept-Encoding is sent).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit


class ControlError(Exception):
    """The request failed after a connection was made (or the URL is unusable)."""


class NotListening(ControlError):
    """Nothing accepted the connection at the daemon's address."""


@dataclass(frozen=True)
class Reply:
    status_code: int
    headers: Mapping[str, str]  # names lowercased
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


def request(
    base_url: str,
    method: str,
    path: str,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> Reply:
    """One request on a fresh connection. Raises NotListening when the connection is refused
    (or cannot be made), ControlError for any later failure."""
    url = urlsplit(base_url)
    if url.scheme != "http" or not url.hostname:
        raise ControlError(f"not an http:// URL: {base_url}")
    target = url.path.rstrip("/") + path + (f"?{urlencode(params)}" if params else "")
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=timeout)
    try:
        try:
            conn.connect()
        except OSError as e:
            raise NotListening(f"cannot connect to {base_url}: {e.strerror or e}") from e
        try:
            conn.request(method, target, headers=dict(headers or {}))
            response = conn.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException) as e:
            raise ControlError(f"{method} {path}: {e or type(e).__name__}") from e
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, content)
    finally:
        conn.close()
