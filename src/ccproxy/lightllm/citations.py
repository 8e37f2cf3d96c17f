"""Citations and grounding between the wire formats.

The IR keeps a citation on the text part it supports (`TextPart.citations`, offsets in
characters into that part's text, None = the whole part). Each wire has its own place:

- Anthropic: `citations` on a text block (whole block; char/page/block locations in request
  documents, web search results, search results), `citations_delta` when streaming;
- OpenAI Chat: `message.annotations[]` `url_citation` with offsets into `content`;
  Perplexity adds top-level `citations` (URLs) and `search_results` to a Chat response;
- OpenAI Responses: `output_text.annotations[]` (`url_citation`, `file_citation`);
- Gemini: `candidate.groundingMetadata` (`groundingChunks` + `groundingSupports` whose
  segments are UTF-8 byte offsets into a part).

What a target cannot carry is dropped with a debug log (document passages without a URL
towards OpenAI Chat, say); `cited_text` fills in what offsets cannot say.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from ccproxy.lightllm.ir import Citation, TextPart, Wire, dropped, hint

# ---- Anthropic ------------------------------------------------------------------------------

_ANTHROPIC_DOC = {
    "char_location": ("start_char_index", "end_char_index"),
    "page_location": ("start_page_number", "end_page_number"),
    "content_block_location": ("start_block_index", "end_block_index"),
}


def anthropic_in(c: Any) -> Citation:
    c = c if isinstance(c, dict) else {}
    t = c.get("type")
    cit = Citation(cited_text=_str(c.get("cited_text")))
    if t == "web_search_result_location":
        cit.kind, cit.url, cit.title = "url", _str(c.get("url")), _str(c.get("title"))
    elif t == "search_result_location":
        cit.kind, cit.url, cit.title = "search_result", _str(c.get("source")), _str(c.get("title"))
        cit.source_index = _int(c.get("search_result_index"))
        cit.location = {k: c[k] for k in ("start_block_index", "end_block_index") if k in c}
    else:
        cit.kind = "document"
        cit.title, cit.file_id = _str(c.get("document_title")), _str(c.get("file_id"))
        cit.source_index = _int(c.get("document_index"))
        keys = _ANTHROPIC_DOC.get(t or "", ())
        cit.location = {"type": t, **{k: c[k] for k in keys if k in c}}
    cit.hints["anthropic"] = {"raw": c}
    return cit


def anthropic_out(c: Citation, cited: str) -> dict[str, Any] | None:
    raw = hint(c, "anthropic", "raw")
    if raw is not None:
        return dict(raw)
    text = c.cited_text if c.cited_text is not None else cited
    if c.kind == "document" and c.location and c.location.get("type") in _ANTHROPIC_DOC:
        loc = c.location
        out = {"type": loc["type"], "cited_text": text, "document_index": c.source_index or 0}
        out.update({k: v for k, v in loc.items() if k != "type"})
        out["document_title"] = c.title
        if c.file_id is not None:
            out["file_id"] = c.file_id
        return out
    if c.kind == "search_result" and c.url is not None:
        return {
            "type": "search_result_location",
            "cited_text": text,
            "source": c.url,
            "title": c.title,
            "search_result_index": c.source_index or 0,
            "start_block_index": (c.location or {}).get("start_block_index", 0),
            "end_block_index": (c.location or {}).get("end_block_index", 0),
        }
    if c.url is not None:
        # encrypted_index lets Anthropic find its own search result again; a foreign one has none
        return {"type": "web_search_result_location", "cited_text": text, "url": c.url, "title": c.title,
                "encrypted_index": ""}  # fmt: skip
    dropped(f"{c.kind} citation without a URL or document location", "anthropic")
    return None


def anthropic_blocks(part: TextPart) -> list[tuple[str, list[Citation]]]:
    """Split a text part into (text, citations) blocks so that each cited span becomes its own
    block, as Anthropic cites whole blocks (and its own answers come that way)."""
    cits = part.citations or []
    spans = [c for c in cits if c.start is not None and c.end is not None]
    whole = [c for c in cits if c.start is None or c.end is None]
    if not spans:
        return [(part.text, whole)]
    n = len(part.text)
    edges = {max(0, min(n, x or 0)) for c in spans for x in (c.start, c.end)}
    cuts = sorted({0, n, *edges})
    out: list[tuple[str, list[Citation]]] = []
    for a, b in pairwise(cuts):
        if a == b:
            continue
        covering = [c for c in spans if (c.start or 0) <= a and b <= (c.end or 0)]
        out.append((part.text[a:b], covering))
    if whole:
        out[-1] = (out[-1][0], [*out[-1][1], *whole])
    return out


# ---- OpenAI Chat / Responses / Perplexity -----------------------------------------------------


def url_annotation_in(a: Any, nested: bool) -> Citation | None:
    """A url_citation annotation: Chat nests the fields under `url_citation`, Responses does not."""
    if not isinstance(a, dict):
        return None
    t = a.get("type")
    body = a.get("url_citation") if nested else a
    if t == "url_citation" and isinstance(body, dict):
        cit = Citation(kind="url", url=_str(body.get("url")), title=_str(body.get("title")))
        cit.start, cit.end = _int(body.get("start_index")), _int(body.get("end_index"))
    elif t == "file_citation" and not nested:
        cit = Citation(kind="file", file_id=_str(a.get("file_id")), title=_str(a.get("filename")))
        cit.location = {"index": a.get("index")}
    else:
        return None
    return cit


def _span(c: Citation, offset: int, length: int) -> tuple[int, int]:
    if c.start is None or c.end is None:
        return offset, offset + length
    return offset + c.start, offset + c.end


def chat_annotation(c: Citation, start: int, end: int, wire: Wire = "openai") -> dict[str, Any] | None:
    """A Chat `url_citation` for content[start:end]; Chat has no other kind of annotation."""
    if c.url is None:
        dropped(f"{c.kind} citation without a URL (Chat has url_citation only)", wire)
        return None
    body = {"start_index": start, "end_index": end, "title": c.title or "", "url": c.url}
    return {"type": "url_citation", "url_citation": body}


def chat_annotations(parts: list[tuple[int, TextPart]], wire: Wire = "openai") -> list[dict[str, Any]]:
    """`message.annotations` for text parts placed at the given offsets of the content."""
    out: list[dict[str, Any]] = []
    for offset, p in parts:
        for c in p.citations or ():
            if hint(c, wire, "perplexity"):
                continue  # re-emitted from the response's own top-level keys
            a = chat_annotation(c, *_span(c, offset, len(p.text)), wire)
            if a is not None:
                out.append(a)
    return out


def responses_annotation(c: Citation, length: int, offset: int = 0) -> dict[str, Any] | None:
    a, b = _span(c, offset, length)
    if c.kind == "file" or (c.url is None and c.file_id is not None):
        index = (c.location or {}).get("index")
        return {"type": "file_citation", "file_id": c.file_id or "", "filename": c.title or "",
                "index": index if isinstance(index, int) else a}  # fmt: skip
    if c.url is None:
        dropped(f"{c.kind} citation without a URL or file id", "openai_responses")
        return None
    return {"type": "url_citation", "start_index": a, "end_index": b, "title": c.title or "", "url": c.url}


def perplexity_in(body: dict[str, Any]) -> list[Citation]:
    """Perplexity's `search_results` (title, url, snippet) or else its `citations` URL list:
    sources of the whole answer, no offsets."""
    out: list[Citation] = []
    results = body.get("search_results")
    if isinstance(results, list) and results:
        for i, r in enumerate(results):
            if isinstance(r, dict) and isinstance(r.get("url"), str):
                c = Citation(kind="search_result", url=r["url"], title=_str(r.get("title")),
                             cited_text=_str(r.get("snippet")), source_index=i)  # fmt: skip
                out.append(c)
    else:
        for i, u in enumerate(body.get("citations") or ()):
            if isinstance(u, str):
                out.append(Citation(kind="url", url=u, source_index=i))
    for c in out:
        c.hints["openai"] = {"perplexity": True}
    return out


# ---- Gemini ---------------------------------------------------------------------------------


def _char_offset(text: str, byte_offset: int) -> int:
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", "ignore"))


def _byte_offset(text: str, char_offset: int) -> int:
    return len(text[:char_offset].encode("utf-8"))


def gemini_in(meta: Any, texts: list[str]) -> list[list[Citation]]:
    """Citations per text of `texts` (the candidate's text parts, in order) from
    `groundingMetadata`; segments without partIndex index the texts joined."""
    per: list[list[Citation]] = [[] for _ in texts]
    if not isinstance(meta, dict) or not texts:
        return per
    chunks = meta.get("groundingChunks") or []
    sources: list[Citation] = []
    for ch in chunks if isinstance(chunks, list) else ():
        ch = ch if isinstance(ch, dict) else {}
        web, ctx = ch.get("web"), ch.get("retrievedContext")
        if isinstance(web, dict):
            sources.append(Citation(kind="url", url=_str(web.get("uri")), title=_str(web.get("title"))))
        elif isinstance(ctx, dict):
            sources.append(Citation(kind="document", url=_str(ctx.get("uri")), title=_str(ctx.get("title")),
                                    cited_text=_str(ctx.get("text"))))  # fmt: skip
        else:
            sources.append(Citation(kind="url"))
    supports = meta.get("groundingSupports") or []
    for s in supports if isinstance(supports, list) else ():
        if not isinstance(s, dict):
            continue
        seg = s["segment"] if isinstance(s.get("segment"), dict) else {}
        pi = _int(seg.get("partIndex")) or 0
        pi = min(pi, len(texts) - 1)
        text = texts[pi]
        a = _char_offset(text, _int(seg.get("startIndex")) or 0)
        b = _char_offset(text, _int(seg.get("endIndex")) or len(text.encode()))
        for ci in s.get("groundingChunkIndices") or ():
            if isinstance(ci, int) and 0 <= ci < len(sources) and sources[ci].url is not None:
                src = sources[ci]
                per[pi].append(src.model_copy(update={"start": a, "end": b, "cited_text": _str(seg.get("text"))}))
    if not any(per) and sources:
        # grounding without supports: the sources back the whole answer
        per[0].extend(s for s in sources if s.url is not None)
    return per


def gemini_out(parts: list[tuple[int, TextPart]]) -> dict[str, Any] | None:
    """`groundingMetadata` for the candidate's text parts, each with its index among the parts."""
    chunks: list[dict[str, Any]] = []
    index: dict[tuple[str | None, str | None, str], int] = {}
    supports: list[dict[str, Any]] = []
    for pi, p in parts:
        for c in p.citations or ():
            key = (c.url, c.title, c.kind)
            if key not in index:
                if c.url is None and c.title is None:
                    dropped(f"{c.kind} citation without a source", "gemini")
                    continue
                index[key] = len(chunks)
                if c.kind == "url" or (c.url is not None and c.kind != "document"):
                    chunks.append({"web": {"uri": c.url, "title": c.title or c.url}})
                else:
                    ctx = {k: v for k, v in (("uri", c.url), ("title", c.title), ("text", c.cited_text)) if v}
                    chunks.append({"retrievedContext": ctx})
            a, b = (0, len(p.text)) if c.start is None or c.end is None else (c.start, c.end)
            seg = {"partIndex": pi, "startIndex": _byte_offset(p.text, a), "endIndex": _byte_offset(p.text, b),
                   "text": p.text[a:b]}  # fmt: skip
            supports.append({"segment": seg, "groundingChunkIndices": [index[key]]})
    if not chunks:
        return None
    return {"groundingChunks": chunks, "groundingSupports": supports}


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None
