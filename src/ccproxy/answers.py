"""Errors ccproxy itself answers with, as mitmproxy responses in the client's wire format.

A leaf module (mitmproxy's http and lightllm's pure error tables only), so that addons, providers
and hooks can all answer without importing each other; lightllm itself stays free of mitmproxy."""

from __future__ import annotations

import json

from mitmproxy import http

from ccproxy.lightllm.errors import failure
from ccproxy.lightllm.ir import Wire


def error_response(wire: Wire | None, status: int, message: str) -> http.Response:
    out_status, body = failure(wire, message, status)
    return http.Response.make(out_status, json.dumps(body).encode(), {"content-type": "application/json"})
