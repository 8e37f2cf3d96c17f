"""Conversion cost of lightllm on the recorded corpus, next to a JSON decode+encode baseline
(what forwarding an unconverted body costs at least). Prints µs per body and the ratio.

    .venv/bin/python bench/lightllm_convert.py [--corpus PATH] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from ccproxy.lightllm import convert as cv
from ccproxy.lightllm.ir import WIRES

DIRS = {"anthropic": "anthropic", "openai": "openai_chat", "openai_responses": "openai_responses", "gemini": "gemini"}


def _corpus(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    for base in Path(__file__).resolve().parents:
        if (base / "shared" / "corpus").is_dir():
            return base / "shared" / "corpus"
    raise SystemExit("bench: corpus not found (pass --corpus)")


def _time(fn: Any, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    corpus = _corpus(args.corpus)
    print(f"{'src wire':18} {'kind':9} {'bodies':>6} {'json µs':>9} {'same µs':>9} {'cross µs':>9} {'cross/json':>10}")
    for wire, d in DIRS.items():
        reqs: list[tuple[bytes, str]] = []
        resps: list[bytes] = []
        for f in sorted((corpus / d).glob("*.json")):
            rec = json.loads(f.read_text())
            if rec["request"]["body"] is not None:
                reqs.append((json.dumps(rec["request"]["body"]).encode(), rec["request"]["path"]))
            if not rec["stream"] and rec["response"]["status"] < 400:
                resps.append(rec["response"]["body"].encode())
        others = [w for w in WIRES if w != wire]
        for kind, items in (("request", reqs), ("response", resps)):
            if not items:
                continue

            def baseline(items: Any = items) -> None:
                for it in items:
                    raw = it[0] if isinstance(it, tuple) else it
                    json.dumps(json.loads(raw)).encode()

            def same(items: Any = items, kind: str = kind, wire: Any = wire) -> None:
                for it in items:
                    if kind == "request":
                        raw, path = it
                        json.dumps(cv.render_request(cv.parse_request(json.loads(raw), wire, path=path), wire))  # type: ignore[arg-type]
                    else:
                        json.dumps(cv.render_response(cv.parse_response(json.loads(it), wire), wire))  # type: ignore[arg-type]

            def cross(items: Any = items, kind: str = kind, wire: Any = wire, others: Any = others) -> None:
                for it in items:
                    for dst in others:
                        if kind == "request":
                            raw, path = it
                            json.dumps(cv.convert_request(json.loads(raw), wire, dst, path=path))  # type: ignore[arg-type]
                        else:
                            json.dumps(cv.convert_response(json.loads(it), wire, dst))  # type: ignore[arg-type]

            n = len(items)
            b = _time(baseline, args.repeat) / n
            s = _time(same, args.repeat) / n
            c = _time(cross, args.repeat) / n / len(others)
            print(f"{wire:18} {kind:9} {n:6d} {b:9.1f} {s:9.1f} {c:9.1f} {c / b:10.1f}")


if __name__ == "__main__":
    main()
