"""Cost of the end-of-stream tail check on same-format passthrough streams.

    .venv/bin/python bench/stream_tail_check.py [--deltas N] [--repeat R]

The same upstream bytes (bench/stream_convert.py's scenario, one wire event per chunk) go
through the passthrough StreamConverter with the tail check (as shipped) and through the same
converter with the check switched off (baseline), side by side in one run, CPU time
(process_time) of this process. The check keeps references to the last two relayed chunks and, at
close, runs a few regexes over the last two events in them.
"""

from __future__ import annotations

import argparse
import time

from stream_convert import scenario, upstream_chunks

from ccproxy.lightllm.ir import WIRES, Wire
from ccproxy.lightllm.stream import RequestContext, StreamConverter
from ccproxy.lightllm.stream.converter import _last_boundary


class Unchecked(StreamConverter):
    """The baseline: passthrough as before the check (no chunks kept, no check at close)."""

    def feed(self, chunk: bytes) -> bytes:
        buf = self._held + chunk if self._held else chunk
        cut = _last_boundary(buf)
        self._held = buf[cut:]
        return buf[:cut]

    def close(self) -> bytes:
        out, self._held = self._held, b""
        self._renderer.done = True
        return out


def run(cls: type[StreamConverter], wire: Wire, chunks: list[bytes], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        conv = cls(wire, wire, RequestContext(model="m"))
        t0 = time.process_time()
        for c in chunks:
            conv.feed(c)
        conv.close()
        best = min(best, time.process_time() - t0)
        assert conv.error is None
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--deltas", type=int, default=4000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    events = scenario(args.deltas)
    print(f"{'passthrough':<20}{'events':>8}{'baseline ev/s':>16}{'checked ev/s':>16}{'cost x':>8}")
    for wire in WIRES:
        chunks = upstream_chunks(wire, events)
        base = run(Unchecked, wire, chunks, args.repeat)
        checked = run(StreamConverter, wire, chunks, args.repeat)
        n = len(chunks)
        print(f"{wire:<20}{n:>8}{n / base:>16,.0f}{n / checked:>16,.0f}{checked / base:>8.2f}")


if __name__ == "__main__":
    main()
