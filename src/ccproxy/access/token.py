"""The local control token: a random secret in a 0600 file in the state dir.

The daemon writes a fresh one at every start; the CLI reads it to reveal secrets or delete
flows. Only the user who owns the state dir can read it, so another local user (or a web page)
cannot present it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

TOKEN_FILE = "control.token"
# Where a client presents the token; `Authorization: Bearer <token>` works as well. The
# x-ccproxy- prefix means the egress sanitizer strips it should it ride on a proxied request.
TOKEN_HEADER = "x-ccproxy-token"


def token_path(state_dir: Path) -> Path:
    return state_dir / TOKEN_FILE


def create_token(state_dir: Path) -> str:
    """A new token, written atomically (a concurrent reader sees the old or the new one, whole)."""
    import secrets  # only the daemon writes a token: the CLI's start-up does not pay for it

    token = secrets.token_urlsafe(32)
    path = token_path(state_dir)
    tmp = path.with_name(f".{TOKEN_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)  # a stale temp file from a crashed start may have had another mode
        os.write(fd, (token + "\n").encode())
    finally:
        os.close(fd)
    try:
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return token


def read_token(state_dir: Path) -> str | None:
    """The running daemon's token, or None when it cannot be read (not started, another user's)."""
    try:
        text = token_path(state_dir).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None
