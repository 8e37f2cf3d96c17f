"""Logging for the daemon: a rotating log file that survives restarts, secrets scrubbed."""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

from ccproxy.config.models import Config

LOG_NAME = "ccproxy.log"

# Credentials that may show up in messages (tokens, API keys, sentinel keys).
_SECRET = re.compile(
    r"(sk-ant-[A-Za-z0-9_\-]{6})[A-Za-z0-9_\-]+"
    r"|(sk-[A-Za-z0-9_\-]{4})[A-Za-z0-9_\-]{12,}"
    r"|(AIza[0-9A-Za-z_\-]{4})[0-9A-Za-z_\-]{20,}"
    r"|((?:[Bb]earer|x-api-key:?|x-goog-api-key:?)\s+)[^\s,'\"]+"
    r"|(ya29\.)[0-9A-Za-z_\-.]+"
)


def scrub(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        kept = next(g for g in m.groups() if g is not None)
        return f"{kept}<redacted>"

    return _SECRET.sub(repl, text)


class ScrubFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def log_path(config: Config) -> Path:
    raw = config.ccproxy.log_file
    return Path(raw).expanduser() if raw else config.state_dir / LOG_NAME


def setup_logging(config: Config, *, console: bool = True) -> Path:
    path = log_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    # Rotate rather than truncate: `ccproxy logs` must show what happened before a restart.
    file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=10 * 1024 * 1024, backupCount=3)
    file_handler.setFormatter(fmt)
    file_handler.addFilter(ScrubFilter())
    root.addHandler(file_handler)
    if console:
        stream = logging.StreamHandler()
        stream.setFormatter(fmt)
        stream.addFilter(ScrubFilter())
        root.addHandler(stream)
    root.setLevel(config.ccproxy.log_level)
    # mitmproxy logs every client connect at INFO; keep them for DEBUG.
    logging.getLogger("mitmproxy").setLevel(logging.DEBUG if config.ccproxy.log_level == "DEBUG" else logging.WARNING)
    return path
