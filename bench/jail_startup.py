"""Jail start-up time: `ccproxy run --inspect -- true` against a real daemon, beside baselines.

usage: python bench/jail_startup.py [RUNS]     (Linux with the jail tools; talks to 127.0.0.1 only)
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

from ccproxy.jail.runner import Jail, JailSpec


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def summary(name: str, xs: list[float], base: float | None = None) -> None:
    med = statistics.median(xs)
    ratio = f"  x{med / base:.1f} vs baseline" if base else ""
    print(f"{name:44} median {med * 1000:7.1f} ms  min {min(xs) * 1000:7.1f} ms  max {max(xs) * 1000:7.1f} ms{ratio}")


def main(runs: int) -> None:
    cfg = Path(tempfile.mkdtemp(prefix="ccproxy-bench-"))
    port, wg = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_DGRAM)
    (cfg / "ccproxy.yaml").write_text(yaml.safe_dump({"ccproxy": {"port": port, "inspector": {"wireguard_port": wg}}}))
    env = {**os.environ, "CCPROXY_CONFIG_DIR": str(cfg)}
    daemon = subprocess.Popen([sys.executable, "-m", "ccproxy", "start"], env=env, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        spec = JailSpec(state_dir=cfg, wireguard_port=wg, ca_cert=cfg / "mitmproxy-ca-cert.pem")
        bring_up = []
        for _ in range(runs):
            jail = Jail(spec)
            jail.start(["true"], os.environ)
            jail.wait()
            jail.teardown()
            bring_up.append(jail.startup_seconds)
        base = [timed(["true"], env) for _ in range(runs)]
        ns = [timed(["unshare", "--user", "--map-root-user", "--net", "true"], env) for _ in range(runs)]
        full = [timed([sys.executable, "-m", "ccproxy", "run", "--inspect", "--", "true"], env) for _ in range(runs)]
        py = [timed([sys.executable, "-m", "ccproxy", "--help"], env) for _ in range(runs)]
        summary("baseline: true", base)
        summary("baseline: unshare -r -n true", ns)
        summary("baseline: python -m ccproxy --help (imports)", py)
        summary("jail bring-up (Jail.start, in process)", bring_up)
        summary("ccproxy run --inspect -- true (wall)", full, statistics.median(py))
    finally:
        daemon.terminate()
        daemon.wait()
        shutil.rmtree(cfg, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
