"""Dotted paths that hooks declare in `reads=` / `writes=` and use on the Context.

Pure functions only: parsing, alias resolution and overlap tests. A path is a
glom-style dotted string; the first segments pick a root of the flow:

    request.method | request.host | request.path | request.url
    request.headers[.<name>]          header names are case-insensitive
    request.body[.<key>|.<index>...]  the parsed JSON body
    metadata[.<key>]                  flow.metadata["ccproxy.<key>"]
    response.status_code | response.headers[.<name>] | response.body[...]
    flow.id                           read-only

Aliases (`request.model`, `model`, `messages`, `system`, `tools`, `provider`,
`session_id`) are rewritten to their canonical form so that two hooks naming the
same data differently still get ordered.
"""

from __future__ import annotations

ALIASES: dict[str, str] = {
    "request.model": "request.body.model",
    "model": "request.body.model",
    "messages": "request.body.messages",
    "system": "request.body.system",
    "tools": "request.body.tools",
    "provider": "metadata.provider",
    "session_id": "metadata.session_id",
}

# Roots with a fixed depth (no children) vs roots that accept any sub-path.
LEAF_ROOTS = frozenset(
    {
        "request.method",
        "request.host",
        "request.path",
        "request.url",
        "request.scheme",
        "request.port",
        "response.status_code",
        "flow.id",
    }
)
TREE_ROOTS = ("request.headers", "request.body", "response.headers", "response.body", "metadata")
READ_ONLY = frozenset({"flow.id"})


def split(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def canonical(path: str) -> str:
    """Resolve aliases and lower-case header names; raise ValueError for unknown roots."""
    path = path.strip()
    if not path or any(not part for part in path.split(".")):
        raise ValueError(f"invalid path {path!r}")
    for alias, target in ALIASES.items():
        if path == alias or path.startswith(alias + "."):
            path = target + path[len(alias) :]
            break
    if path in LEAF_ROOTS:
        return path
    for root in TREE_ROOTS:
        if path == root or path.startswith(root + "."):
            if root.endswith(".headers") and path != root:
                return root + "." + path[len(root) + 1 :].lower()
            return path
    known = sorted([*LEAF_ROOTS, *TREE_ROOTS, *ALIASES])
    raise ValueError(f"unknown path {path!r} (valid roots: {', '.join(known)})")


def root_of(path: str) -> str:
    """The root a canonical path lives under (e.g. 'request.body')."""
    if path in LEAF_ROOTS:
        return path
    for root in TREE_ROOTS:
        if path == root or path.startswith(root + "."):
            return root
    raise ValueError(f"unknown path {path!r}")


def overlaps(a: str, b: str) -> bool:
    """Two canonical paths overlap when one is the other or a segment-wise prefix of it."""
    sa, sb = split(a), split(b)
    n = min(len(sa), len(sb))
    return sa[:n] == sb[:n]


def any_overlap(xs: tuple[str, ...], ys: tuple[str, ...]) -> bool:
    return any(overlaps(x, y) for x in xs for y in ys)
