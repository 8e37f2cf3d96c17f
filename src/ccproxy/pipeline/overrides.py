"""Per-request hook overrides: `x-ccproxy-hooks: +name,-other`.

The first stage that sees the header parses it, stores the result in
`flow.metadata[meta.HOOK_OVERRIDES]` for later stages, and removes the
header so it never reaches the provider.
"""

from __future__ import annotations

from dataclasses import dataclass

from mitmproxy import http

from ccproxy.flows import meta

HEADER = "x-ccproxy-hooks"
META_KEY = meta.HOOK_OVERRIDES


@dataclass(frozen=True, slots=True)
class Overrides:
    enable: frozenset[str] = frozenset()
    disable: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.enable or self.disable)

    def as_dict(self) -> dict[str, list[str]]:
        return {"enable": sorted(self.enable), "disable": sorted(self.disable)}


NONE = Overrides()


def parse(value: str) -> Overrides:
    """`+a, -b, c` -> enable {a, c}, disable {b}; a later token for the same hook wins."""
    state: dict[str, bool] = {}
    for raw in value.split(","):
        token = raw.strip()
        if not token:
            continue
        on = not token.startswith("-")
        name = token.lstrip("+-").strip()
        if name:
            state[name] = on
    return Overrides(frozenset(k for k, v in state.items() if v), frozenset(k for k, v in state.items() if not v))


def take(flow: http.HTTPFlow) -> Overrides:
    """Overrides for this flow, consuming the header on first use."""
    headers = flow.request.headers
    values = headers.get_all(HEADER)
    if values:
        del headers[HEADER]
        found = parse(",".join(values))
        flow.metadata[META_KEY] = found.as_dict()
        return found
    stored = flow.metadata.get(META_KEY)
    if isinstance(stored, dict):
        return Overrides(frozenset(stored.get("enable", ())), frozenset(stored.get("disable", ())))
    return NONE
