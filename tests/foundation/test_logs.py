"""The daemon's log handlers: secrets scrubbed (the quick pre-check never lets one through),
each record formatted once, and the private file rotated by size."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from ccproxy.daemon import logs

SECRETS = [
    "key sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123",
    "sk-proj-abcdefghijklmnopqrstuv",
    "AIzaSyA1234567890abcdefghijklmnopqrstu",
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload",
    "bearer abc.def",
    "x-api-key: 1234567890",
    "{'x-goog-api-key': 'secretvalue'}",
    'cookie="session=abc"',
    "GET /v1beta/models?alt=sse&key=AIzaNOTLONGENOUGH",
    "/path?token=abc&x=1",
    "ya29.a0AfH6SMBx-token",
    "proxy-authorization: Basic dXNlcjpwYXNz",
]
PLAIN = [
    "a1b2c3d4 POST api.openai.com/v1/chat/completions -> 200 openai gpt-4o (12 ms)",
    "listening on 127.0.0.1:4000",
    "",
]


def _slow_scrub(text: str) -> str:
    return logs._SECRET.sub(lambda m: next(g for g in m.groups() if g is not None) + "<redacted>", text)


@pytest.mark.parametrize("text", SECRETS + PLAIN)
def test_scrub_with_the_pre_check_equals_the_full_pattern(text: str) -> None:
    assert logs.scrub(text) == _slow_scrub(text)


@pytest.mark.parametrize("text", SECRETS)
def test_every_sample_secret_is_scrubbed(text: str) -> None:
    assert "<redacted>" in logs.scrub(text)


def test_a_record_is_formatted_once_for_every_handler(tmp_path: Path) -> None:
    calls: list[str] = []

    class Counting(logs.LineFormatter):
        def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
            calls.append(record.getMessage())
            return "T"

    fmt = Counting("%(asctime)s %(message)s")
    file_handler = logs.PrivateRotatingFileHandler(tmp_path / "a.log", maxBytes=10**6, backupCount=1)
    other = logs.PrivateRotatingFileHandler(tmp_path / "b.log", maxBytes=10**6, backupCount=1)
    logger = logging.getLogger("ccproxy.test.once")
    logger.propagate = False
    for h in (file_handler, other):
        h.setFormatter(fmt)
        h.addFilter(logs.ScrubFilter())
        logger.addHandler(h)
    try:
        logger.warning("hello %s", "Bearer abcdef")
    finally:
        for h in (file_handler, other):
            logger.removeHandler(h)
            h.close()
    assert calls == ["hello Bearer <redacted>"]
    assert (tmp_path / "a.log").read_text() == (tmp_path / "b.log").read_text() == "T hello Bearer <redacted>\n"


def test_the_private_file_rotates_by_size_and_stays_0600(tmp_path: Path) -> None:
    path = tmp_path / "ccproxy.log"
    path.write_text("x" * 50 + "\n")  # what an earlier run left: counted from the start
    os.chmod(path, 0o644)
    handler = logs.PrivateRotatingFileHandler(path, maxBytes=200, backupCount=2)
    handler.setFormatter(logs.LineFormatter("%(message)s"))
    logger = logging.getLogger("ccproxy.test.rotate")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        for i in range(10):
            logger.warning("line %02d %s", i, "y" * 40)  # 49 bytes each with the newline
    finally:
        logger.removeHandler(handler)
        handler.close()
    sizes = [p.stat().st_size for p in (path, path.with_name("ccproxy.log.1"))]
    assert all(0 < s <= 200 for s in sizes)
    assert path.with_name("ccproxy.log.2").exists()
    lines = "".join(p.read_text() for p in (path.with_name("ccproxy.log.1"), path)).splitlines()
    assert [ln[:7] for ln in lines] == [f"line {i:02d}" for i in range(10 - len(lines), 10)]
    for p in tmp_path.glob("ccproxy.log*"):
        assert p.stat().st_mode & 0o777 == 0o600


def test_a_non_regular_file_never_rotates_and_keeps_its_mode(tmp_path: Path) -> None:
    """log_file may name a FIFO or a device (/dev/null): no rotation, and no chmod of it."""
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo, 0o644)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a writer's open needs a reader
    handler = logs.PrivateRotatingFileHandler(fifo, maxBytes=10, backupCount=1)
    handler.setFormatter(logs.LineFormatter("%(message)s"))
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "a long line " * 5, None, None)
    try:
        assert handler.shouldRollover(record) is False
        handler.emit(record)
        assert os.read(reader, 1000) == b"a long line " * 5 + b"\n"
    finally:
        handler.close()
        os.close(reader)
    assert fifo.stat().st_mode & 0o777 == 0o644
    assert not fifo.with_name("log.fifo.1").exists()
