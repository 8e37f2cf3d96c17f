"""Driving an interactive command through a real pseudo-terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

PROMPT = re.compile(rb"flows\[(\d+)\]> ")
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


class PtySession:
    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
        os.close(slave)
        self.buffer = b""

    def expect(self, pattern: re.Pattern[bytes], timeout: float = 20.0) -> re.Match[bytes]:
        deadline = time.monotonic() + timeout
        while True:
            match = pattern.search(self.buffer)
            if match:
                self.before = ANSI.sub(b"", self.buffer[: match.start()]).decode(errors="replace")
                self.buffer = self.buffer[match.end() :]
                return match
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {pattern.pattern!r}; got {self.buffer[-2000:]!r}")
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"process ended waiting for {pattern.pattern!r}; got {self.buffer!r}")
                self.buffer += chunk

    def send(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def command(self, line: str) -> tuple[str, int]:
        """Send a line; return what was printed before the next prompt and that prompt's count."""
        self.send(line)
        match = self.expect(PROMPT)
        out = self.before.replace("\r\n", "\n")
        echoed, _, rest = out.partition("\n")  # the terminal echoes the input line first
        assert line in echoed
        return rest, int(match.group(1))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        os.close(self.master)


def ccproxy_flows_argv() -> list[str]:
    exe = Path(sys.executable).with_name("ccproxy")
    try:
        import ccproxy.cli.main  # noqa: F401

        return [str(exe), "flows"]
    except ImportError:  # before the root CLI exists, run the flows group directly
        return [sys.executable, "-c", "from ccproxy.cli.flows import flows; flows(prog_name='ccproxy flows')"]
