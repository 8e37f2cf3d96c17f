"""`ccproxy flows view --html FILE`: the flow set's conversations as one HTML file."""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from typing import Any

from ccproxy.config.models import Config
from ccproxy.usage.prices import Pricer
from ccproxy.viewer.model import export_data
from ccproxy.viewer.page import export_page


class ExportError(ValueError):
    """One line for the user: what was asked for and why it cannot be written."""


def select_session(data: dict[str, Any], wanted: str) -> dict[str, Any]:
    keys = [s["key"] for s in data["sessions"]]
    hits = [k for k in keys if k == wanted] or [k for k in keys if k.startswith(wanted)]
    if len(hits) != 1:
        known = ", ".join(keys[:10]) or "none"
        why = "no session" if not hits else f"{len(hits)} sessions"
        raise ExportError(f"--session {wanted!r}: {why} with that key in the flow set (sessions: {known})")
    key = hits[0]
    return {
        "sessions": [s for s in data["sessions"] if s["key"] == key],
        "conversations": {key: data["conversations"][key]},
    }


def write_export(
    flows: Sequence[dict[str, Any]], path: str, *, session: str | None = None, config: Config | None = None
) -> int:
    """Writes the file (0600: it holds prompts); returns the number of sessions in it."""
    pricer = Pricer(config.ccproxy.usage.prices if config is not None else {})
    data = export_data(flows, pricer.price)
    if session is not None:
        data = select_session(data, session)
    data["exported_at"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = export_page(data)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as e:
        raise ExportError(f"--html {path}: cannot write: {e.strerror}") from e
    return len(data["sessions"])
