"""Recorded real streams from ../shared/corpus (relative to the repository root)."""

from __future__ import annotations

import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# $CCPROXY_CORPUS, else <repo>/../shared/corpus; from a git worktree under <root>/wt/NAME it is
# one level further up
_CANDIDATES = [
    *([Path(os.environ["CCPROXY_CORPUS"])] if os.environ.get("CCPROXY_CORPUS") else []),
    REPO.parent / "shared" / "corpus",
    REPO.parent.parent / "shared" / "corpus",
]
CORPUS = next((c for c in _CANDIDATES if c.is_dir()), _CANDIDATES[0])
# corpus wire names → ccproxy wire names (provider `type:`)
_WIRES = {
    "anthropic": "anthropic",
    "openai_chat": "openai",
    "openai_responses": "openai_responses",
    "gemini": "gemini",
}


def corpus_streams() -> list[tuple[str, str, bytes, str]]:
    """(name, wire, raw SSE bytes, request path) of every recorded 200 event stream."""
    out: list[tuple[str, str, bytes, str]] = []
    if not CORPUS.is_dir():
        return out
    for sub, wire in _WIRES.items():
        for f in sorted((CORPUS / sub).glob("*.json")):
            d = json.loads(f.read_text())
            resp = d["response"]
            if d.get("stream") and resp["status"] == 200 and "event-stream" in resp["content_type"]:
                out.append((f"{sub}/{f.name}", wire, resp["body"].encode(), d["request"]["path"]))
    for f in sorted((CORPUS / "anthropic_sse").glob("*")):
        if f.suffix in (".txt", ".sse"):
            out.append((f"anthropic_sse/{f.name}", "anthropic", f.read_bytes(), "/v1/messages"))
    return out
