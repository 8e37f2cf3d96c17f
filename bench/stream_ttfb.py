"""Time to first byte of a streamed answer: direct to the fake provider, through the daemon
with the same format (passthrough), and through the daemon with conversion (each upstream
format rendered to an Anthropic client), side by side.

    .venv/bin/python bench/stream_ttfb.py [--requests 200]

TTFB is measured from sending the request to receiving the first body byte (raw httpx reads).
The fake answers in the upstream's format; a test-only inbound hook
(tests.lightllm_stream.route_hook) tells the daemon which format that is. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.lightllm_stream.test_convert import SCENARIOS  # noqa: E402
from tests.lightllm_stream.test_engine import upstream_events  # noqa: E402
from tests.support.daemon import DaemonProcess, provider_entry  # noqa: E402
from tests.support.fake_provider import FakeProvider, Reply  # noqa: E402

BODY = {"model": "m", "max_tokens": 16, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
WIRES = ("anthropic", "openai", "openai_responses", "gemini")


def ttfb(client: httpx.Client, fake: FakeProvider, url: str, upstream: str, n: int) -> list[float]:
    events = upstream_events(upstream, SCENARIOS["text"])
    out = []
    for _ in range(n):
        fake.queue(Reply(events=events))
        t = time.perf_counter()
        with client.stream("POST", url, json=BODY, headers={"x-test-upstream-wire": upstream}) as r:
            first = None
            for _chunk in r.iter_raw():
                if first is None:
                    first = time.perf_counter() - t
        out.append(first if first is not None else float("nan"))
    return out


class _Relay:
    """Baseline: mitmproxy streaming the body unchanged (what any streaming proxy must do).
    Registered before StreamingAddon, which then steps aside."""

    def responseheaders(self, flow: Any) -> None:
        flow.response.stream = True


async def engine_ttfb(n: int) -> None:
    """The same measurement inside one process on the bare mitmproxy engine, to isolate the
    streaming addon's share. Two proxies run side by side (plain relay; StreamingAddon) and
    requests alternate between all configurations, so load from elsewhere hits them alike."""
    from tests.lightllm_stream.engine import Script, ScriptedUpstream, Step, running_proxy

    fake = ScriptedUpstream()
    await fake.start()
    try:
        async with (
            running_proxy(fake.port, extra_addons=(_Relay(),)) as relay,
            running_proxy(fake.port) as proxy,
            httpx.AsyncClient(trust_env=False, timeout=30) as client,
        ):

            async def once(url: str, upstream: str) -> float:
                fake.script = Script([Step(e) for e in upstream_events(upstream, SCENARIOS["text"])])
                proxy.tagger.client_wire, proxy.tagger.upstream_wire = "anthropic", upstream
                t = time.perf_counter()
                first = float("nan")
                async with client.stream("POST", url + "/v1/messages", json=BODY) as r:
                    async for _chunk in r.aiter_raw():
                        if first != first:  # nan: nothing yet
                            first = time.perf_counter() - t
                return first

            configs = [("engine: direct", f"http://127.0.0.1:{fake.port}", "anthropic")]
            configs.append(("engine: plain relay (baseline)", relay.url, "anthropic"))
            configs += [(f"engine: StreamingAddon {u} -> anthropic", proxy.url, u) for u in WIRES]
            samples: dict[str, list[float]] = {label: [] for label, _, _ in configs}
            for i in range(n + 20):
                for label, url, upstream in configs:
                    t = await once(url, upstream)
                    if i >= 20:  # the first rounds warm up
                        samples[label].append(t)
            base = statistics.median(samples["engine: plain relay (baseline)"])
            for label, _, _ in configs:
                med = statistics.median(samples[label])
                print(f"{label:46} TTFB median {med * 1e3:7.3f} ms   vs relay {(med - base) * 1e3:+7.3f} ms")
    finally:
        await fake.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    asyncio.run(engine_ttfb(args.requests))
    fake = FakeProvider().start()
    config = {
        "ccproxy": {
            "providers": {w: provider_entry(fake.hostport, w) for w in WIRES},
            "hooks": {"inbound": ["tests.lightllm_stream.route_hook"]},
        }
    }
    daemon = DaemonProcess(Path(tempfile.mkdtemp(prefix="ccproxy-bench-")), config, env={"PYTHONPATH": str(REPO)})
    daemon.start()
    try:
        with httpx.Client(trust_env=False, timeout=30) as client:
            rows = [("direct (anthropic)", fake.url, "anthropic")]
            rows += [(f"daemon {u} -> anthropic", daemon.url, u) for u in WIRES]
            for _, url, upstream in rows:  # warm-up
                ttfb(client, fake, url + "/v1/messages", upstream, 20)
            base = None
            for label, url, upstream in rows:  # daemon rows: sequential blocks (noisier)
                med = statistics.median(ttfb(client, fake, url + "/v1/messages", upstream, args.requests))
                base = med if base is None else base
                print(f"{label:34} TTFB median {med * 1e3:7.3f} ms   added vs direct {(med - base) * 1e3:7.3f} ms")
    finally:
        daemon.stop()
        fake.stop()


if __name__ == "__main__":
    main()
