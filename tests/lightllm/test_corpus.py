"""Recorded real provider traffic (tests/corpus): every request body and non-streamed
response parses, renders back to exactly itself, and converts to every other format into
something the official SDKs accept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ccproxy.lightllm import convert as cv
from ccproxy.lightllm.ir import WIRES
from tests.lightllm.lightllm_oracles import CORPUS, CORPUS_DIRS, check_request, check_response


def _files() -> list[tuple[str, Path]]:
    return [(w, f) for w, d in CORPUS_DIRS.items() for f in sorted((CORPUS / d).glob("*.json"))]


def _load(f: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(f.read_text())
    return data


REQUESTS = [pytest.param(w, f, id=f"{w}/{f.stem}") for w, f in _files() if _load(f)["request"]["body"] is not None]
RESPONSES = [
    pytest.param(w, f, id=f"{w}/{f.stem}")
    for w, f in _files()
    if not _load(f)["stream"] and _load(f)["response"]["status"] < 400
]
ERRORS = [pytest.param(w, f, id=f"{w}/{f.stem}") for w, f in _files() if _load(f)["response"]["status"] >= 400]


def test_corpus_is_not_empty() -> None:
    assert len(REQUESTS) > 100 and len(RESPONSES) > 100 and len(ERRORS) >= 10


@pytest.mark.parametrize(("wire", "path"), REQUESTS)
def test_request_same_format_identity(wire: str, path: Path) -> None:
    rec = _load(path)
    body = rec["request"]["body"]
    req = cv.parse_request(body, wire, path=rec["request"]["path"])  # type: ignore[arg-type]
    out = cv.render_request(req, wire)  # type: ignore[arg-type]
    assert json.dumps(out, sort_keys=True) == json.dumps(body, sort_keys=True)


@pytest.mark.parametrize(("wire", "path"), RESPONSES)
def test_response_same_format_identity(wire: str, path: Path) -> None:
    body = json.loads(_load(path)["response"]["body"])
    out = cv.render_response(cv.parse_response(body, wire), wire)  # type: ignore[arg-type]
    assert json.dumps(out, sort_keys=True) == json.dumps(body, sort_keys=True)


@pytest.mark.parametrize(("wire", "path"), REQUESTS)
def test_request_converts_to_every_format(wire: str, path: Path) -> None:
    rec = _load(path)
    for dst in WIRES:
        if dst == wire:
            continue
        r = cv.convert_request_full(rec["request"]["body"], wire, dst, path=rec["request"]["path"])  # type: ignore[arg-type]
        check_request(dst, r.body)
        assert r.path.startswith("/v1")


@pytest.mark.parametrize(("wire", "path"), RESPONSES)
def test_response_converts_to_every_format(wire: str, path: Path) -> None:
    body = json.loads(_load(path)["response"]["body"])
    src = cv.parse_response(body, wire)  # type: ignore[arg-type]
    for dst in WIRES:
        if dst == wire:
            continue
        out = cv.convert_response(body, wire, dst)  # type: ignore[arg-type]
        check_response(dst, out)
        back = cv.parse_response(out, dst)
        assert _texts(back) == _texts(src)
        assert _calls(back) == _calls(src)


@pytest.mark.parametrize(("wire", "path"), ERRORS)
def test_error_converts_to_every_format(wire: str, path: Path) -> None:
    rec = _load(path)
    status = rec["response"]["status"]
    for dst in WIRES:
        out_status, body, _ = cv.convert_error_body(status, rec["response"]["body"], wire, dst)  # type: ignore[arg-type]
        assert out_status >= 400
        if dst == wire:
            assert body == json.loads(rec["response"]["body"])
        message = body["error"]["message"]
        assert isinstance(message, str) and message


def _texts(resp: Any) -> str:
    # Chat Completions joins an answer's text blocks into one string; compare the whole text.
    return "".join(p.text for p in resp.parts if p.type == "text")


def _calls(resp: Any) -> list[tuple[str, Any]]:
    return [(p.name, p.arguments) for p in resp.parts if p.type == "tool_call"]
