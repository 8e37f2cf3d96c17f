"""Fake provider for the client trials (docs/clients.md): serves the four wire formats
on a free loopback port, writes the port to argv[1], and on SIGTERM writes what it
received (method, path, credential headers, model) to argv[2] as JSON."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.support.fake_provider import FakeProvider

SHOWN = ("x-api-key", "authorization", "x-goog-api-key", "user-agent", "chatgpt-account-id")


def main() -> None:
    fake = FakeProvider().start()
    Path(sys.argv[1]).write_text(str(fake.port))

    def dump(*_: Any) -> None:
        out = []
        for r in fake.received:
            body = r.json if r.body[:1] == b"{" else None
            out.append(
                {
                    "method": r.method,
                    "path": r.path,
                    "headers": {k: v for k, v in r.headers.items() if k in SHOWN},
                    "model": (body or {}).get("model"),
                    "stream": (body or {}).get("stream"),
                }
            )
        Path(sys.argv[2]).write_text(json.dumps(out, indent=1))
        sys.exit(0)

    signal.signal(signal.SIGTERM, dump)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
