"""Per-request cost of OpenTelemetry spans: the same requests through three daemons side by
side in one run: otel off (baseline), otel on with a loopback OTLP/HTTP receiver, and otel on
with the collector unreachable (nothing listens: exports fail in the background).

    .venv/bin/python bench/telemetry_overhead.py [--requests 300]

Requests alternate between the daemons, so load on the machine hits all three alike.
Prints medians and the ratios against the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import all_wires_providers
from tests.support.daemon import DaemonProcess, free_port
from tests.support.fake_provider import FakeProvider
from tests.telemetry.otlp_receiver import OtlpReceiver

BODY = {"model": "claude-test", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}


def one(client: httpx.Client, url: str, stream: bool) -> float:
    t = time.perf_counter()
    if stream:
        with client.stream("POST", url, json={**BODY, "stream": True}, headers={"x-api-key": "k"}) as r:
            for _chunk in r.iter_raw():
                pass
    else:
        client.post(url, json=BODY, headers={"x-api-key": "k"}).raise_for_status()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=300)
    args = ap.parse_args()
    fake = FakeProvider().start()
    receiver = OtlpReceiver().start()
    tmp = Path(tempfile.mkdtemp(prefix="ccproxy-bench-otel-"))
    otel_on = {"enabled": True, "endpoint": receiver.endpoint}
    otel_down = {"enabled": True, "endpoint": f"http://127.0.0.1:{free_port()}"}
    daemons = {
        name: DaemonProcess(tmp / name, {"ccproxy": {"providers": all_wires_providers(fake), "otel": otel}}).start()
        for name, otel in (("off", {"enabled": False}), ("on", otel_on), ("unreachable", otel_down))
    }
    try:
        with httpx.Client(trust_env=False, timeout=30) as client:
            for stream in (False, True):
                times: dict[str, list[float]] = {name: [] for name in daemons}
                for d in daemons.values():  # warm-up
                    for _ in range(20):
                        one(client, d.url + "/v1/messages", stream)
                for _ in range(args.requests):
                    for name, d in daemons.items():
                        times[name].append(one(client, d.url + "/v1/messages", stream))
                base = statistics.median(times["off"])
                kind = "stream" if stream else "json"
                cells = "   ".join(
                    f"{name} {statistics.median(t) * 1e3:7.3f} ms ({statistics.median(t) / base:4.2f}x)"
                    for name, t in times.items()
                )
                print(f"{kind:6}  {cells}   (median of {args.requests})")
        print(f"spans received by the loopback collector: {len(receiver.spans)}")
    finally:
        for d in daemons.values():
            d.stop()
        receiver.stop()
        fake.stop()


if __name__ == "__main__":
    main()
