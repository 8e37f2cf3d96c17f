"""The viewer's HTML: the page the daemon serves at /ui/ and the self-contained export.

One renderer (static/viewer.js) draws both, from JSON: the served page fetches /ui/api/...,
the export carries its data in a JSON script block. Captured text only ever reaches the DOM
through textContent, and the Content-Security-Policy forbids every script but ours.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from importlib import resources
from typing import Any

STATIC_FILES = {"viewer.js": "text/javascript; charset=utf-8", "viewer.css": "text/css; charset=utf-8"}

# Served page: scripts and styles from our own files only; images only as data: URIs (inline
# images of a request); nothing framed, no form posts, no <base> tricks.
SERVED_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": SERVED_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-resource-policy": "same-origin",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


@cache
def static(name: str) -> bytes:
    if name not in STATIC_FILES:
        raise KeyError(name)
    return resources.files("ccproxy.viewer").joinpath("static", name).read_bytes()


def _shell(head: str, body_attrs: str, tail: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>ccproxy conversations</title>\n{head}</head>\n"
        f'<body{body_attrs}><header id="top"><a id="home" href="#/">ccproxy conversations</a>'
        '<span id="status"></span></header><main id="app">Loading…</main>\n'
        f"{tail}</body></html>\n"
    )


def served_page() -> bytes:
    head = '<link rel="stylesheet" href="/ui/viewer.css">\n'
    tail = '<script src="/ui/viewer.js"></script>\n'
    return _shell(head, ' data-mode="live"', tail).encode()


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def json_for_script(data: Any) -> str:
    """JSON that cannot end its <script> block: `<`, `>` and `&` are written as \\u escapes."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def export_page(data: dict[str, Any]) -> str:
    """One HTML file that opens from disk: CSS, JS and data inline, pinned by a CSP meta by hash."""
    css = static("viewer.css").decode()
    js = static("viewer.js").decode()
    csp = (
        f"default-src 'none'; script-src '{_sha256(js)}'; style-src '{_sha256(css)}'; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    head = f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n<style>{css}</style>\n'
    tail = (
        f'<script type="application/json" id="ccproxy-data">{json_for_script(data)}</script>\n<script>{js}</script>\n'
    )
    return _shell(head, ' data-mode="export"', tail)
