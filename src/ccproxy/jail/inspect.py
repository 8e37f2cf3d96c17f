"""`ccproxy run --inspect -- cmd`: the entry point the CLI calls."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ccproxy.jail.preflight import PreflightError
from ccproxy.jail.runner import FORWARDED, Jail, JailError, JailSpec, become_subreaper
from ccproxy.jail.slots import jail_slots

if TYPE_CHECKING:
    from ccproxy.config import Config

CA_CERT_NAME = "mitmproxy-ca-cert.pem"


def spec_from_config(config: Config) -> JailSpec:
    return JailSpec(
        state_dir=config.state_dir,
        wireguard_port=config.ccproxy.inspector.wireguard_port,
        ca_cert=config.config_dir / CA_CERT_NAME,
        wireguard_host=loopback_for(config.ccproxy.host),
        slots=jail_slots(config),
    )


def loopback_for(host: str) -> str:
    # slirp4netns reaches the host's loopback only; a wildcard listener is reachable there too.
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def run_inspect(
    cmd: Sequence[str],
    config: Config | None = None,
    *,
    spec: JailSpec | None = None,
    env: Mapping[str, str] | None = None,
    timing: bool = False,
) -> int:
    """Run `cmd` in a fresh jail; returns its exit code (128+N if killed by signal N).

    Bring-up problems print one line to stderr and return 1.
    """
    if spec is None:
        if config is None:
            raise TypeError("run_inspect needs config or spec")
        spec = spec_from_config(config)
    if not cmd:
        print(
            "ccproxy run --inspect: no command given (usage: ccproxy run --inspect -- CMD ...)",
            file=sys.stderr,
        )
        return 2
    become_subreaper()
    jail = Jail(spec)
    # From here on a signal must not kill ccproxy before the jail is torn down: catch it, and hand
    # it to the command once that runs (handlers revert to the default in the exec'd command).
    # Signals ccproxy was started ignoring (nohup, background jobs) stay ignored, for the command too.
    forwarded = [sig for sig in FORWARDED if signal.getsignal(sig) != signal.SIG_IGN]
    early: list[int] = []
    previous = {sig: signal.signal(sig, lambda signo, _frame: early.append(signo)) for sig in forwarded}
    try:
        try:
            jail.start(list(cmd), os.environ if env is None else env)
        except (PreflightError, JailError) as e:
            print(f"ccproxy run --inspect: {e}", file=sys.stderr)
            return 1
        if timing:
            print(
                f"ccproxy: jail up in {jail.startup_seconds * 1000:.0f} ms ({jail.wg_mode} WireGuard)",
                file=sys.stderr,
            )
        return jail.wait(early, forwarded)
    finally:
        jail.teardown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
