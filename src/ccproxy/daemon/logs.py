"""Logging for the daemon: a rotating log file that survives restarts, secrets scrubbed."""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
import re
import stat
from pathlib import Path

from ccproxy.config.loader import key_path
from ccproxy.config.models import Config
from ccproxy.providers.redact import SECRET_HEADERS, SECRET_QUERY

LOG_NAME = "ccproxy.log"

_HEADER_NAMES = "|".join(re.escape(h) for h in sorted(SECRET_HEADERS, key=len, reverse=True))
_QUERY_NAMES = "|".join(re.escape(q) for q in sorted(SECRET_QUERY, key=len, reverse=True))
# Credentials that may show up in messages (tokens, API keys, sentinel keys), and the values
# of the secret headers and query parameters (one vocabulary: providers/redact.py).
_SECRET = re.compile(
    r"(sk-ant-[A-Za-z0-9_\-]{6})[A-Za-z0-9_\-]+"
    r"|(sk-[A-Za-z0-9_\-]{4})[A-Za-z0-9_\-]{12,}"
    r"|(AIza[0-9A-Za-z_\-]{4})[0-9A-Za-z_\-]{20,}"
    rf"|((?:[Bb]earer|(?<![\w-])(?:{_HEADER_NAMES}):)\s+)[^\s,'\"]+"
    rf"|((?<![\w-])(?:{_HEADER_NAMES})['\"]?\s*[:=]\s*['\"])[^'\"]+"
    rf"|([?&](?:{_QUERY_NAMES})=)[^&\s'\"#]+"
    r"|(ya29\.)[0-9A-Za-z_\-.]+"
)


# A literal that every match of _SECRET contains: most lines hold none, and this search is
# ~6x cheaper than _SECRET's (lookbehinds and groups), on the event loop for every line.
_MAYBE_SECRET = re.compile(rf"sk-|AIza|earer|ya29\.|{_HEADER_NAMES}|[?&](?:{_QUERY_NAMES})=")


def scrub(text: str) -> str:
    if _MAYBE_SECRET.search(text) is None:
        return text

    def repl(m: re.Match[str]) -> str:
        kept = next(g for g in m.groups() if g is not None)
        return f"{kept}<redacted>"

    return _SECRET.sub(repl, text)


_SCRUBBED = "_ccproxy_scrubbed"


class ScrubFilter(logging.Filter):
    """Scrubs each record once: the file and console handlers share the record, and the
    message is left formatted (args dropped), so neither handler formats or scrubs it again."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _SCRUBBED, False):
            return True
        record.msg, record.args = scrub(record.getMessage()), None
        setattr(record, _SCRUBBED, True)
        return True


_LINE = "_ccproxy_line"


class LineFormatter(logging.Formatter):
    """Formats each record once: the file and console handlers share the record and this
    formatter, and the file handler's rollover check asks for the line too."""

    def format(self, record: logging.LogRecord) -> str:
        line = getattr(record, _LINE, None)
        if line is None:
            line = super().format(record)
            setattr(record, _LINE, line)
        return str(line)


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Log files are 0600, the first and every rotated one: DEBUG lines hold request details.

    The size is counted as lines are written (the stock rollover check stats the path twice
    and seeks to the end for every record, on the event loop)."""

    _size = 0
    _regular = True

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        st = os.fstat(fd)
        self._size, self._regular = st.st_size, stat.S_ISREG(st.st_mode)
        if self._regular:  # a file left by an older version (0644) is tightened; never /dev/null
            os.fchmod(fd, 0o600)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)

    def shouldRollover(self, record: logging.LogRecord) -> bool:
        if self.stream is None:
            self.stream = self._open()
        if self.maxBytes <= 0 or not self._regular:  # never rotate /dev/null or a pipe
            return False
        line = len(self.format(record).encode("utf-8", "replace")) + 1
        return self._size > 0 and self._size + line >= self.maxBytes

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self.shouldRollover(record):
                self.doRollover()  # reopens: _size is the new file's
            logging.FileHandler.emit(self, record)
            self._size += len(self.format(record).encode("utf-8", "replace")) + 1
        except Exception:
            self.handleError(record)


def log_path(config: Config) -> Path:
    raw = config.ccproxy.log_file
    return Path(raw).expanduser() if raw else config.state_dir / LOG_NAME


class LogFileError(Exception):
    """The log file cannot be opened; the message names the config key to fix."""


def _blocking_ancestor(path: Path) -> Path | None:
    """The first existing ancestor of `path` that is not a directory, if any."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def _open_error(config: Config, path: Path, e: OSError) -> LogFileError:
    key = key_path("log_file") if config.ccproxy.log_file else key_path("state_dir")
    blocker = _blocking_ancestor(path)
    if blocker is not None:
        why = f"{blocker} is not a directory"
    elif path.is_dir():
        why = "it is a directory (log_file names a file)"
    else:
        why = e.strerror or str(e)
    return LogFileError(f"{key}: cannot open log file {path}: {why}")


def setup_logging(config: Config, *, console: bool = True) -> Path:
    """Raises LogFileError (one line naming the key) when the log file cannot be opened."""
    path = log_path(config)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = PrivateRotatingFileHandler(path, maxBytes=10 * 1024 * 1024, backupCount=3)
    except OSError as e:
        raise _open_error(config, path, e) from e
    fmt = LineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    # Rotate rather than truncate (above): `ccproxy logs` must show what happened before a restart.
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
