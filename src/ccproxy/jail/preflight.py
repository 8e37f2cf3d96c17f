"""Preflight: the Linux tools the namespace jail needs, with per-distro package hints."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass

# tool -> (debian/ubuntu, fedora, arch) package names, from the installation table of the docs.
PACKAGES: dict[str, tuple[str, str, str]] = {
    "slirp4netns": ("slirp4netns", "slirp4netns", "slirp4netns"),
    "wg": ("wireguard-tools", "wireguard-tools", "wireguard-tools"),
    "ip": ("iproute2", "iproute", "iproute2"),
    "iptables": ("iptables", "iptables-nft", "iptables"),
    "ip6tables": ("iptables", "iptables-nft", "iptables"),
    "iptables-restore": ("iptables", "iptables-nft", "iptables"),
    "ip6tables-restore": ("iptables", "iptables-nft", "iptables"),
    "unshare": ("util-linux", "util-linux", "util-linux"),
    "nsenter": ("util-linux", "util-linux", "util-linux"),
    "setpriv": ("util-linux", "util-linux", "util-linux"),
    "sysctl": ("procps", "procps-ng", "procps-ng"),
}
REQUIRED_TOOLS: tuple[str, ...] = tuple(PACKAGES)
# Only needed when the kernel has no WireGuard module (containers, WSL, minimal kernels).
USERSPACE_WG = "wireguard-go"
USERSPACE_WG_PACKAGES = ("wireguard-go", "wireguard-go", "wireguard-go")

DISTROS = ("Debian/Ubuntu: sudo apt install -y", "Fedora: sudo dnf install -y", "Arch: sudo pacman -S")


class PreflightError(Exception):
    """The jail cannot run here; the message says why and how to fix it."""


@dataclass(frozen=True)
class ToolReport:
    name: str
    path: str | None


def find_tools(names: tuple[str, ...] = (*REQUIRED_TOOLS, USERSPACE_WG)) -> list[ToolReport]:
    return [ToolReport(name, shutil.which(name)) for name in names]


def install_hint(missing: list[str]) -> str:
    """Per-distro install commands for the missing tools (pure)."""
    lines = []
    for i, prefix in enumerate(DISTROS):
        pkgs: list[str] = []
        for tool in missing:
            pkg = USERSPACE_WG_PACKAGES[i] if tool == USERSPACE_WG else PACKAGES[tool][i]
            if pkg not in pkgs:
                pkgs.append(pkg)
        lines.append(f"  {prefix} {' '.join(pkgs)}")
    return "\n".join(lines)


def missing_tools(kernel_wireguard: bool) -> list[str]:
    names = REQUIRED_TOOLS if kernel_wireguard else (*REQUIRED_TOOLS, USERSPACE_WG)
    return [t.name for t in find_tools(names) if t.path is None]


def check_platform(platform: str = sys.platform) -> None:
    if not platform.startswith("linux"):
        raise PreflightError(
            f"the jail needs Linux namespaces (platform: {platform}); "
            "missing Linux-only tools: "
            + ", ".join((*REQUIRED_TOOLS, USERSPACE_WG))
            + ". Use the reverse proxy (ccproxy run without --inspect) or WSL2."
        )


def preflight(kernel_wireguard: bool) -> None:
    """Raise PreflightError naming every missing tool and how to install it."""
    check_platform()
    missing = missing_tools(kernel_wireguard)
    if missing:
        raise PreflightError(
            # No "ccproxy run --inspect:" prefix: the caller that prints the error adds its own.
            "missing tools on PATH: " + ", ".join(missing) + "\n" + install_hint(missing)
        )
