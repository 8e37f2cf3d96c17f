"""Conversion cost of lightllm on the recorded corpus, next to a JSON decode+encode baseline
(what forwarding an unconverted body costs at least). Prints µs per body and the ratio.

    .venv/bin/python bench/lightllm_convert.py [--corpus PATH] [--repeat N]   (corpus: tests/corpus)
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import corpus_dir, timed
from ccproxy.lightllm import convert as cv
from ccproxy.lightllm.ir import WIRES

DIRS = {"anthropic": "anthropic", "openai": "openai_chat", "openai_responses": "openai_responses", "gemini": "gemini"}


def _time(fn: Any, repeat: int) -> float:
    return timed(fn, repeat)[0] * 1e6


@dataclass
class Row:
    wire: str
    kind: str  # request | response
    bodies: int
    json_us: float  # decode + encode, the floor
    same_us: float  # parse + render into the same wire
    cross_us: float  # convert into each other wire (mean per target)


def measure(corpus: Path, repeat: int) -> list[Row]:
    rows = []
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
            b = _time(baseline, repeat) / n
            s = _time(same, repeat) / n
            c = _time(cross, repeat) / n / len(others)
            rows.append(Row(wire, kind, n, b, s, c))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    print(f"{'src wire':18} {'kind':9} {'bodies':>6} {'json µs':>9} {'same µs':>9} {'cross µs':>9} {'cross/json':>10}")
    for r in measure(corpus_dir(args.corpus), args.repeat):
        print(
            f"{r.wire:18} {r.kind:9} {r.bodies:6d} {r.json_us:9.1f} {r.same_us:9.1f} {r.cross_us:9.1f} "
            f"{r.cross_us / r.json_us:10.1f}"
        )


if __name__ == "__main__":
    main()
