"""Per-request cost of the security checks (issue 13), against a baseline run side by side:
copying the request, which the inspector already does for every flow (its client snapshot).

- origin: LocalAccess.check_origin on a request without Origin (every SDK request);
- egress: sanitize_request with the %-decoding sentinel search, on a request with a path and
  a query (what every forwarded request pays);
- flow_json: serialising a flow for /flows (path/url query redaction included).

    .venv/bin/python bench/access_checks.py [N]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from mitmproxy.test import tflow, tutils

from ccproxy.access.local import LocalAccess
from ccproxy.flows.serialize import flow_json
from ccproxy.providers.egress import sanitize_request
from ccproxy.providers.sentinel import PREFIX


def plain_sentinel_search(request: object) -> bool:
    """What egress searched before %-decoding was added: plain substrings (the baseline)."""
    r = request  # type: ignore[assignment]
    return (
        any(PREFIX in v for v in r.headers.values())  # type: ignore[attr-defined]
        or any(PREFIX in v for v in r.query.values())  # type: ignore[attr-defined]
        or PREFIX in r.path  # type: ignore[attr-defined]
    )


def per_call(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main(n: int) -> None:
    req = tutils.treq(
        path=b"/v1beta/models/gemini-test:streamGenerateContent?alt=sse&key=AIzaSyExampleExampleExample00",
        headers=((b"host", b"127.0.0.1:4000"), (b"x-goog-api-key", b"k"), (b"content-type", b"application/json")),
    )
    access = LocalAccess.build("127.0.0.1", "t" * 43)
    flow = tflow.tflow(req=req, resp=True)
    cases = {
        "baseline: request.copy()": lambda: req.copy(),
        "origin check": lambda: access.check_origin(req.headers, 4000),
        "egress: plain search (old) + copy": lambda: plain_sentinel_search(req.copy()),
        "egress sanitize (new) + copy": lambda: sanitize_request(req.copy()),
        "flow_json (no bodies)": lambda: flow_json(flow),
    }
    base = per_call(cases["baseline: request.copy()"], n)
    for name, fn in cases.items():
        us = per_call(fn, n)
        print(f"{name:36} {us:8.2f} us/call  {us / base:6.2f}x baseline")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
