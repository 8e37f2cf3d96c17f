"""Citations and cache/reasoning usage in streams, every direction, judged by the SDKs' own
stream accumulators; `stream_usage` reads the same numbers from the bytes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from anthropic._models import construct_type as anthropic_construct
from anthropic._streaming import SSEDecoder as AnthropicSSEDecoder
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import RawMessageStreamEvent
from google.genai import types as gtypes
from openai import omit
from openai._models import construct_type as openai_construct
from openai._streaming import SSEDecoder as OpenAISSEDecoder
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import ResponseStreamEvent

from ccproxy.lightllm.ir import WIRES, Usage
from ccproxy.lightllm.stream import RequestContext, StreamConverter
from ccproxy.lightllm.usage import stream_usage
from tests.conftest import corpus_path

from .oracles import gemini_chunks

RAW = (Path(__file__).parent / "data" / "anthropic_citations_stream.sse").read_bytes()
TEXT = "According to the document, the grass is green and the sky is blue (Rayleigh)"
WEB = "https://en.wikipedia.org/wiki/Rayleigh_scattering"
USAGE = Usage(input_tokens=2510, output_tokens=42, cache_read_tokens=2000, cache_write_tokens=500)


def _events(decoder: Any, raw: bytes) -> list[Any]:
    return list(decoder.iter_bytes(iter([raw])))


def citations_seen(wire: str, raw: bytes) -> tuple[str, list[tuple[str, str]], int]:
    """(text, [(cited span or block text, url)], non-URL citations) from the SDK's snapshot."""
    spans: list[tuple[str, str]] = []
    other = 0
    if wire == "anthropic":
        snap: Any = None
        bufs: dict[int, bytes] = {}
        for sse in _events(AnthropicSSEDecoder(), raw):
            if sse.event in ("ping", None):
                continue
            ev = anthropic_construct(type_=RawMessageStreamEvent, value=sse.json())
            snap = accumulate_event(event=ev, current_snapshot=snap, json_bufs=bufs)
        text = ""
        for b in snap.content:
            text += b.text
            for c in b.citations or ():
                if c.type == "web_search_result_location":
                    spans.append((b.text or c.cited_text, c.url))
                else:
                    other += 1
        return text, spans, other
    if wire == "openai":
        state = ChatCompletionStreamState()
        for sse in _events(OpenAISSEDecoder(), raw):
            if sse.data.startswith("[DONE]"):
                break
            state.handle_chunk(ChatCompletionChunk.model_validate(sse.json()))
        msg = state.current_completion_snapshot.choices[0].message
        content = msg.content or ""
        for a in msg.annotations or ():
            spans.append((content[a.url_citation.start_index : a.url_citation.end_index], a.url_citation.url))
        return content, spans, other
    if wire == "openai_responses":
        rstate: ResponseStreamState[Any] = ResponseStreamState(input_tools=omit, text_format=omit)
        final: Any = None
        for sse in _events(OpenAISSEDecoder(), raw):
            for out in rstate.handle_event(openai_construct(type_=ResponseStreamEvent, value=sse.json())):
                if out.type == "response.completed":
                    final = out.response
        text = ""
        for item in final.output:
            for part in getattr(item, "content", None) or ():
                text += part.text
                for a in part.annotations:
                    spans.append((part.text[a.start_index : a.end_index], a.url))
        return text, spans, other
    text, gm = "", None
    for obj in gemini_chunks(raw):
        resp = gtypes.GenerateContentResponse.model_validate(obj)  # strict: our render
        cand = resp.candidates[0]  # type: ignore[index]
        text += "".join(p.text or "" for p in (cand.content.parts if cand.content else None) or ())
        gm = cand.grounding_metadata or gm
    data = text.encode()
    for s in (gm.grounding_supports if gm else None) or ():
        for i in s.grounding_chunk_indices or ():
            ch = gm.grounding_chunks[i]  # type: ignore[union-attr,index]
            span = data[s.segment.start_index or 0 : s.segment.end_index].decode()  # type: ignore[union-attr]
            if ch.web is not None:
                spans.append((span, ch.web.uri or ""))
            else:
                other += 1
    return text, spans, other


def _convert(src: str, dst: str, raw: bytes) -> bytes:
    conv = StreamConverter(src, dst, RequestContext(model="m", include_usage=True))  # type: ignore[arg-type]
    out = b"".join(conv.feed(raw[i : i + 97]) for i in range(0, len(raw), 97)) + conv.close()
    assert conv.error is None, conv.error
    return out


@pytest.mark.parametrize("dst", WIRES)
def test_anthropic_citations_stream_to_every_client(dst: str) -> None:
    out = _convert("anthropic", dst, RAW)
    text, spans, other = citations_seen(dst, out)
    assert text == TEXT
    assert spans == [("the sky is blue (Rayleigh)", WEB)]
    # the document passage: Anthropic and Gemini (retrieved context) carry it, OpenAI has no place
    assert other == (1 if dst in ("anthropic", "gemini") else 0)


@pytest.mark.parametrize("dst", WIRES)
def test_cache_usage_streams_to_every_client(dst: str) -> None:
    assert stream_usage("anthropic", RAW) == USAGE
    out = _convert("anthropic", dst, RAW)
    want = USAGE.model_copy(update={"cache_write_tokens": 0}) if dst == "gemini" else USAGE
    assert stream_usage(dst, out) == want  # type: ignore[arg-type]
    if dst == "openai":
        last = [json.loads(line[6:]) for line in out.decode().splitlines() if line.startswith("data: {")][-1]
        u = ChatCompletionChunk.model_validate(last).usage
        assert u is not None and u.prompt_tokens_details is not None
        assert (u.prompt_tokens_details.cached_tokens, u.prompt_tokens_details.cache_write_tokens) == (2000, 500)


def _recorded(name: str) -> bytes:
    f = corpus_path("gemini", name)
    return str(json.loads(f.read_text())["response"]["body"]).encode()


@pytest.mark.parametrize("dst", ["anthropic", "openai", "openai_responses"])
def test_recorded_gemini_grounding_stream_to_every_client(dst: str) -> None:
    raw = _recorded("google_model_web_search_tool_stream__0.json")
    _, src_spans, _ = citations_seen("gemini", raw)
    assert src_spans, "the recording has grounding supports"
    _, spans, _ = citations_seen(dst, _convert("gemini", dst, raw))
    assert {u for _, u in spans} == {u for _, u in src_spans}
