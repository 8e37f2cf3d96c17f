"""Facts about this machine that decide whether (and how) the jail can run: `namespace status`."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ccproxy.jail.preflight import REQUIRED_TOOLS, USERSPACE_WG, find_tools, install_hint


def kernel_wireguard_loaded() -> bool:
    # An unprivileged namespace cannot autoload modules, so only an already loaded module counts.
    return Path("/sys/module/wireguard").exists()


def read_sysctl(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def tun_accessible() -> bool:
    return os.access("/dev/net/tun", os.R_OK | os.W_OK)


def is_wsl() -> bool:
    release = (read_sysctl("/proc/sys/kernel/osrelease") or "").lower()
    return "microsoft" in release or "wsl" in release


def userns_works() -> tuple[bool, str]:
    """Try it: sysctls differ between kernels, a real unshare does not lie."""
    try:
        r = subprocess.run(
            ["unshare", "--user", "--map-root-user", "--net", "true"],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    return r.returncode == 0, r.stderr.strip()


@dataclass
class Status:
    platform: str
    tools: dict[str, str | None]
    missing: list[str]
    wireguard: str  # "kernel" | "userspace" | "unavailable"
    tun: bool
    userns: bool
    userns_error: str
    apparmor_restrict_unprivileged_userns: str | None
    max_user_namespaces: str | None
    wsl: bool
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def collect_status() -> Status:
    tools = {t.name: t.path for t in find_tools((*REQUIRED_TOOLS, USERSPACE_WG))}
    kernel = kernel_wireguard_loaded()
    wireguard = "kernel" if kernel else ("userspace" if tools[USERSPACE_WG] else "unavailable")
    missing = [n for n, p in tools.items() if p is None and (n != USERSPACE_WG or not kernel)]
    linux = sys.platform.startswith("linux")
    userns, err = userns_works() if linux and tools["unshare"] else (False, "unshare not available")
    st = Status(
        platform=sys.platform,
        tools=tools,
        missing=missing,
        wireguard=wireguard,
        tun=tun_accessible(),
        userns=userns,
        userns_error=err,
        apparmor_restrict_unprivileged_userns=read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
        max_user_namespaces=read_sysctl("/proc/sys/user/max_user_namespaces"),
        wsl=is_wsl(),
    )
    st.problems = diagnose(st)
    return st


def diagnose(st: Status) -> list[str]:
    """Each problem with its fix, one line each (pure)."""
    if not st.platform.startswith("linux"):
        return [f"the jail needs Linux namespaces (platform {st.platform}); use WSL2 or the reverse proxy"]
    out = []
    if st.missing:
        out.append("missing tools: " + ", ".join(st.missing) + "; install:\n" + install_hint(st.missing))
    if st.wireguard == "userspace" and not st.tun:
        out.append("/dev/net/tun is not readable+writable (wireguard-go needs it): sudo chmod 666 /dev/net/tun")
    if not st.userns:
        fix = "check that unprivileged user namespaces are enabled (sysctl user.max_user_namespaces > 0)"
        if st.apparmor_restrict_unprivileged_userns == "1":
            fix = "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or an AppArmor profile)"
        out.append(f"cannot create an unprivileged user namespace ({st.userns_error or 'failed'}): {fix}")
    return out
