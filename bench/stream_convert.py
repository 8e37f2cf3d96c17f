"""Streaming conversion throughput per direction, against same-format passthrough.

    .venv/bin/python bench/stream_convert.py [--deltas N] [--repeat R]

A synthetic answer (thinking, text, two tool calls; N small deltas) is rendered in each source
format and fed to StreamConverter one upstream event per chunk, as a provider sends them.
"events/s" counts upstream wire events per second of this process's CPU time (process_time, so
other load on the machine does not count). The baseline column is the same bytes through the
passthrough converter of the source format (what a same-format stream costs). Goal: >= 50k
events/s per direction on one core.
"""

from __future__ import annotations

import argparse
import re
import time

from ccproxy.lightllm.ir import WIRES, Usage, Wire
from ccproxy.lightllm.stream import RequestContext, StreamConverter
from ccproxy.lightllm.stream.converter import make_renderer
from ccproxy.lightllm.stream.events import (
    MessageStart,
    Stop,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ThinkingSignature,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    UsageUpdate,
)


def scenario(n: int) -> list[StreamEvent]:
    evs: list[StreamEvent] = [MessageStart("msg_bench", "bench-model", Usage(input_tokens=1000))]
    evs += [ThinkingDelta(f"step {i} of the plan; ") for i in range(n // 4)]
    evs.append(ThinkingSignature("c2lnbmF0dXJlLWJlbmNo"))
    evs += [TextDelta(f"word{i} ") for i in range(n // 2)]
    for t in range(2):
        evs.append(ToolCallStart(t, f"call_{t}", "edit_file"))
        evs.append(ToolCallDelta(t, '{"path": "a.py", "text": "'))
        evs += [ToolCallDelta(t, f"line {i}\\n") for i in range(n // 8)]
        evs.append(ToolCallDelta(t, '"}'))
        evs.append(ToolCallEnd(t))
    evs += [UsageUpdate(Usage(input_tokens=1000, output_tokens=n)), Stop("tool_use")]
    return evs


def upstream_chunks(wire: Wire, events: list[StreamEvent]) -> list[bytes]:
    r = make_renderer(wire, RequestContext(model="bench-model", include_usage=True))
    raw = r.render(events)
    # one chunk per wire event, as providers flush them
    return [m.group(0) for m in re.finditer(rb".*?(?:\r\n\r\n|\n\n)", raw, re.S)]


def run(src: Wire, dst: Wire, chunks: list[bytes], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        conv = StreamConverter(src, dst, RequestContext(model="m", include_usage=True))
        t0 = time.process_time()
        for c in chunks:
            conv.feed(c)
        conv.close()
        best = min(best, time.process_time() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--deltas", type=int, default=4000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    events = scenario(args.deltas)
    print(f"{'source -> client':<34}{'events':>8}{'events/s':>12}{'passthrough ev/s':>18}{'cost x':>8}")
    for src in WIRES:
        chunks = upstream_chunks(src, events)
        base = run(src, src, chunks, args.repeat)
        for dst in WIRES:
            t = run(src, dst, chunks, args.repeat)
            n = len(chunks)
            print(f"{src + ' -> ' + dst:<34}{n:>8}{n / t:>12,.0f}{n / base:>18,.0f}{t / base:>8.1f}")


if __name__ == "__main__":
    main()
