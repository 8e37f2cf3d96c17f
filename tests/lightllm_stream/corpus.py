"""Recorded real streams from the corpus in tests/corpus."""

from __future__ import annotations

import json

from tests.conftest import corpus_path

CORPUS = corpus_path()
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
