"""Time `ccproxy flows list` work for 10k flows: fetch + jq filter + table render.

Prints seconds per stage and ratios against baselines run side by side:
  - jq chain on Python objects (apply_filters) vs on JSON text (what the CLI does);
  - rich.Table rendering (measured on 1k rows, scaled) vs our line renderer.
Run: .venv/bin/python bench/flows_list.py [N]
"""

from __future__ import annotations

import io
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "flows"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flowkit import make_flow, to_contract

from bench.common import timed
from ccproxy.flows.client import FlowClient
from ccproxy.flows.jqchain import apply_filters, apply_filters_text
from ccproxy.flows.render import FLOW_HEADERS, ROW_PROJECTION, flow_row, render_flows
from ccproxy.flows.service import resolve_flow_set

FILTERS = [
    'map(select(.request.pretty_host == "api.anthropic.com"))',
    'map(select(.request.path | startswith("/v1/messages")))',
]


def build(n: int) -> list[dict[str, Any]]:
    # Real flows for the shapes, then cheap copies with fresh ids for volume.
    now = time.time()
    templates = [
        to_contract(make_flow("https://api.anthropic.com/v1/messages?beta=true", None, started=now - 60), bodies=False),
        to_contract(make_flow("https://api.openai.com/v1/chat/completions", None, started=now - 50), bodies=False),
        to_contract(make_flow("https://api.anthropic.com/v1/models", method="GET", started=now - 40), bodies=False),
    ]
    out = []
    for i in range(n):
        flow = json.loads(json.dumps(templates[i % 3]))
        flow["id"] = f"{i:08x}-0000-4000-8000-000000000000"
        out.append(flow)
    return out


def serve(text: str) -> ThreadingHTTPServer:
    payload = text.encode()

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    flows = build(n)
    text = json.dumps(flows)
    print(f"{n} flows, {len(text) / 1e6:.1f} MB of /flows JSON")

    t_text, filtered_text = timed(lambda: json.loads(apply_filters_text(text, FILTERS)))
    t_obj, filtered_obj = timed(lambda: apply_filters(json.loads(text), FILTERS))
    assert filtered_text == filtered_obj
    print(f"jq chain on JSON text      {t_text:7.3f} s   ({len(filtered_text)} flows kept)")
    print(f"jq chain on Python objects {t_obj:7.3f} s   baseline, ratio {t_obj / t_text:.1f}x")

    t_render, table = timed(lambda: render_flows(flows, 120))
    print(f"line renderer, all {n}     {t_render:7.3f} s   ({len(table.splitlines())} lines)")

    from rich import box
    from rich.console import Console
    from rich.table import Table

    sample = min(n, 1000)

    def rich_table() -> None:
        now = time.time()
        table = Table(box=box.HEAVY_HEAD)
        for h in FLOW_HEADERS:
            table.add_column(h, overflow="ellipsis")
        for f in flows[:sample]:
            table.add_row(*flow_row(f, now))
        Console(file=io.StringIO(), width=120).print(table)

    t_rich, _ = timed(rich_table, repeat=1)
    scaled = t_rich * n / sample
    print(
        f"rich.Table, {sample} rows      {t_rich:7.3f} s   baseline, scaled to {n}: {scaled:.2f} s, "
        f"ratio {scaled / t_render:.0f}x"
    )

    server = serve(text)
    try:
        with FlowClient(f"http://127.0.0.1:{server.server_address[1]}") as client:
            cpu = time.process_time()
            t_e2e, _ = timed(lambda: render_flows(resolve_flow_set(client, FILTERS, projection=ROW_PROJECTION), 120))
            cpu_e2e = (time.process_time() - cpu) / 3
            t_nofilter, _ = timed(lambda: render_flows(resolve_flow_set(client, []), 120))
    finally:
        server.shutdown()
    print(f"end to end, no filter      {t_nofilter:7.3f} s   (HTTP + json + render)")
    print(f"end to end, 2 seed filters {t_e2e:7.3f} s   (HTTP + jq + projection + render), process cpu {cpu_e2e:.3f} s")
    print(f"target < 1 s wall: {'OK' if t_e2e < 1 else 'MISSED'} (load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
