"""`namespace doctor`: a throwaway jail probing DNS, the tunnel, TLS interception and the kill switch."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass
from typing import Any

from ccproxy.jail.preflight import PreflightError
from ccproxy.jail.runner import Jail, JailError, JailSpec, wireguard_listener_up
from ccproxy.jail.system import collect_status

KILLSWITCH_FIX = "iptables rules were not applied: check that iptables works in a user namespace"
FIXES = {
    "dns": "the daemon answers DNS at 10.0.0.53 through the tunnel: check `ccproxy logs` for DNS errors",
    "tunnel": "no WireGuard handshake: restart `ccproxy start` and check inspector.wireguard_port",
    "tls": "the jail did not get the mitmproxy CA: check mitmproxy-ca-cert.pem in the config directory",
    "killswitch_host_loopback": KILLSWITCH_FIX,
    "killswitch_slirp_dns": KILLSWITCH_FIX,
    "env": "a proxy variable leaked into the jail; report this as a bug",
}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def run_doctor(spec: JailSpec, probe_host: str, blocked_port: int) -> list[Check]:
    checks: list[Check] = []
    st = collect_status()
    checks.append(Check("system", st.ok, f"wireguard={st.wireguard} tun={st.tun} userns={st.userns}",
                        "; ".join(st.problems)))  # fmt: skip
    if not st.ok:
        return checks
    up = wireguard_listener_up(spec.wireguard_host, spec.wireguard_port)
    checks.append(Check("daemon", up, f"udp {spec.wireguard_host}:{spec.wireguard_port}",
                        "" if up else "start the daemon: ccproxy start"))  # fmt: skip
    if not up:
        return checks
    jail = Jail(spec)
    with tempfile.TemporaryFile() as out:
        try:
            jail.start([sys.executable, "-m", "ccproxy.jail.probe", probe_host, str(blocked_port)],
                       os.environ, stdout=out.fileno())  # fmt: skip
        except (PreflightError, JailError) as e:
            checks.append(Check("bring-up", False, str(e), "see `ccproxy namespace status`"))
            return checks
        try:
            rc = jail.wait()
        finally:
            jail.teardown()
        checks.append(Check("bring-up", True, f"{jail.startup_seconds * 1000:.0f} ms, {jail.wg_mode} WireGuard"))
        out.seek(0)
        raw = out.read().decode(errors="replace")
    try:
        report: dict[str, Any] = json.loads(raw.strip().splitlines()[-1])
    except (ValueError, IndexError):
        checks.append(Check("probe", False, f"probe exited {rc}: {raw.strip()[-300:]}", "report this as a bug"))
        return checks
    checks.extend(checks_from_report(report, probe_host))
    return checks


def checks_from_report(report: dict[str, Any], probe_host: str) -> list[Check]:
    """The probe's JSON as checks with fixes (pure). A probe host that does not resolve is
    named as the cause; the tunnel and TLS checks it prevented are not blamed on WireGuard."""
    checks = []
    for name, res in report.items():
        ok = bool(res.get("ok"))
        fix = "" if ok else FIXES.get(name, "")
        if name == "dns" and res.get("unknown_name"):
            fix = (
                f"{probe_host} does not exist: pass --probe-host with a name that resolves,"
                " or pin it with inspector.resolve"
            )
        elif name == "dns" and not ok:
            fix += f"; or {probe_host} does not resolve from this machine: try --probe-host or inspector.resolve"
        elif res.get("skipped"):
            fix = f"fix the dns check first ({probe_host} must resolve for this probe to run)"
        checks.append(Check(name, ok, str(res.get("detail", "")), fix))
    return checks


def render(checks: list[Check], as_json: bool) -> str:
    if as_json:
        return json.dumps({"ok": all(c.ok for c in checks), "checks": [asdict(c) for c in checks]}, indent=2)
    lines = []
    for c in checks:
        lines.append(f"{'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail}")
        if not c.ok and c.fix:
            lines.append(f"     fix: {c.fix}")
    return "\n".join(lines)
