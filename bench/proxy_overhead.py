"""Per-request overhead of the daemon: the same requests direct to a fake provider
and through `ccproxy start`, side by side, plus daemon start-up time.

    .venv/bin/python bench/proxy_overhead.py [--requests 300] [--starts 3]

Everything runs on loopback. Prints medians and the ratio proxied/direct.
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
from tests.support.daemon import DaemonProcess
from tests.support.fake_provider import FakeProvider

BODY = {"model": "claude-test", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}


def timed_requests(client: httpx.Client, url: str, n: int, stream: bool = False) -> list[float]:
    out = []
    body = {**BODY, "stream": stream}
    for _ in range(n):
        t = time.perf_counter()
        if stream:
            with client.stream("POST", url, json=body, headers={"x-api-key": "k"}) as r:
                for _chunk in r.iter_raw():
                    pass
        else:
            client.post(url, json=body, headers={"x-api-key": "k"}).raise_for_status()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--starts", type=int, default=3)
    args = ap.parse_args()

    fake = FakeProvider().start()
    tmp = Path(tempfile.mkdtemp(prefix="ccproxy-bench-"))
    starts = []
    daemon = DaemonProcess(tmp / "cfg", {"ccproxy": {"providers": all_wires_providers(fake)}})
    for i in range(args.starts):
        t = time.perf_counter()
        daemon.start()
        starts.append(time.perf_counter() - t)
        if i < args.starts - 1:
            daemon.stop()
    try:
        with httpx.Client(trust_env=False, timeout=30) as client:
            for stream in (False, True):
                timed_requests(client, fake.url + "/v1/messages", 20, stream)  # warm-up
                timed_requests(client, daemon.url + "/v1/messages", 20, stream)
                direct = timed_requests(client, fake.url + "/v1/messages", args.requests, stream)
                proxied = timed_requests(client, daemon.url + "/v1/messages", args.requests, stream)
                d, p = statistics.median(direct), statistics.median(proxied)
                kind = "stream" if stream else "json"
                print(
                    f"{kind:6}  direct {d * 1e3:7.3f} ms   via ccproxy {p * 1e3:7.3f} ms   "
                    f"added {(p - d) * 1e3:7.3f} ms   ratio {p / d:5.2f}x   (median of {args.requests})"
                )
    finally:
        daemon.stop()
        fake.stop()
    print(
        f"daemon start-up (process spawn to /health 200): median {statistics.median(starts):.2f} s over {len(starts)}"
    )


if __name__ == "__main__":
    main()
