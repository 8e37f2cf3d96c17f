"""Cost of resolving a credential per request, by auth source type, and of the whole
inject_auth step on a mitmproxy flow. Baseline: a flow without a sentinel (the hook's
guard fails and nothing happens).

    .venv/bin/python bench/auth_resolve.py [N]
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from mitmproxy.test import tflow

from ccproxy.config.models import Provider
from ccproxy.providers.inject import inject_auth
from ccproxy.providers.registry import CredentialRegistry


def provider(auth: dict[str, object]) -> Provider:
    return Provider.model_validate({"type": "anthropic", "host": "api.example.test", "auth": auth})


async def per_call(fn: object, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await fn()  # type: ignore[operator]
    return (time.perf_counter() - start) / n * 1e6


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        key = Path(d) / "key"
        key.write_text("file-key-123456")
        creds = Path(d) / "creds.json"
        creds.write_text(
            json.dumps(
                {
                    "claudeAiOauth": {
                        "accessToken": "tok",
                        "refreshToken": "r",
                        "expiresAt": int((time.time() + 3600) * 1000),
                    }
                }
            )
        )
        providers = {
            "command": provider({"type": "command", "command": "printf cmd-key-123456"}),
            "file": provider({"type": "file", "file_path": str(key)}),
            "anthropic_oauth": provider({"type": "anthropic_oauth", "file_path": str(creds)}),
        }
        reg = CredentialRegistry(providers)
        print(f"resolve, microseconds per call (n={n}):")
        for name in providers:
            us = await per_call(lambda name=name: reg.resolve(name), n)
            print(f"  {name:16s} {us:10.1f}")

        async def plain() -> None:
            await inject_auth(tflow.tflow(), reg)

        async def sentinel(name: str) -> None:
            f = tflow.tflow()
            f.request.headers["x-api-key"] = f"sk-ant-oat-ccproxy-{name}"
            await inject_auth(f, reg)

        base = await per_call(plain, n)
        print(f"inject_auth on a flow, microseconds per call (n={n}):")
        print(f"  {'no sentinel':16s} {base:10.1f}  (baseline, includes building the test flow)")
        for name in providers:
            us = await per_call(lambda name=name: sentinel(name), n)
            print(f"  {name:16s} {us:10.1f}  ({us / base:.1f}x baseline)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
