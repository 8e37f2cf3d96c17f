"""Credential JSON files shared with vendor CLIs: dotted-path access, atomic
write-back that keeps every sibling field, and a cross-process advisory lock.

Everything here is blocking file I/O; callers run it off the event loop.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

FILE_MODE = 0o600


def lock_path(path: Path) -> Path:
    # A sidecar, not the file itself: the file is replaced by rename, and a lock on
    # the old inode would not exclude a process that opened the new one.
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Exclusive flock on the sidecar lock file; blocks until the holder is done."""
    lp = lock_path(path)
    fd = os.open(lp, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def get_path(data: dict[str, Any], path: str) -> Any:
    import glom  # here, not at module level: ~3 MB of RSS in a daemon that may read no credential file

    return glom.glom(data, path, default=None) if path else None


def with_updates(data: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    """A copy of `data` with dotted `updates` assigned; siblings untouched, parents created."""
    import glom

    out = copy.deepcopy(data)
    for path, value in updates.items():
        glom.assign(out, path, value, missing=dict)
    return out


def atomic_write_json(path: Path, data: dict[str, Any]) -> None:
    """temp file in the same dir -> fsync -> rename -> chmod 0600: readers see the old
    file or the new one, never a torn write."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), FILE_MODE)
            json.dump(data, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.chmod(path, FILE_MODE)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# Epoch values above this are milliseconds (1e11 s is the year 5138; 1e11 ms is 1973).
_MS_THRESHOLD = 1e11


def expiry_seconds(value: Any) -> float | None:
    """Expiry as epoch seconds from ms, s, or an ISO-8601 string; None when absent/unparseable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) / 1000.0 if value > _MS_THRESHOLD else float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return expiry_seconds(float(text))
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def expiry_like(previous: Any, seconds: float) -> Any:
    """The new expiry written in the unit/format the file already used (ms when unknown:
    both Claude Code and gemini-cli store milliseconds)."""
    if isinstance(previous, str):
        try:
            float(previous)
        except ValueError:
            return datetime.fromtimestamp(seconds).astimezone().isoformat()
        return str(int(seconds * 1000 if float(previous) > _MS_THRESHOLD else seconds))
    if isinstance(previous, int | float) and not isinstance(previous, bool) and previous <= _MS_THRESHOLD:
        return int(seconds)
    return int(seconds * 1000)
