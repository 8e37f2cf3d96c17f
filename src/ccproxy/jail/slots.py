"""Jail slots: each concurrent jail gets its own WireGuard key pair and daemon listener.

A WireGuard server sends a peer's packets to the address it last heard that peer from, so two
jails with one key would steal each other's replies. The daemon listens on `slots` consecutive UDP
ports from inspector.wireguard_port; a jail holds an flock on its slot's lock file while it runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ccproxy.config import Config

DEFAULT_SLOTS = 4  # the default of inspector.wireguard_slots


def jail_slots(config: Config) -> int:
    return config.ccproxy.inspector.wireguard_slots


def lock_path(state_dir: Path, slot: int) -> Path:
    return state_dir / f"jail-slot-{slot}.lock"


def acquire_slot(state_dir: Path, slots: int) -> tuple[int, int] | None:
    """(slot, fd holding its lock) for the first free slot, or None when all are busy.

    The lock dies with the fd, so a crashed ccproxy never leaves a slot taken.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    for slot in range(slots):
        fd = os.open(lock_path(state_dir, slot), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return slot, fd
    return None


def release_slot(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
