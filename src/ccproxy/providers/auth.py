"""Auth sources: where a provider's real credential comes from.

One class per `auth.type` behind one interface, `await source.resolve()`. Static
sources (`command`, `file`) read their value on every resolve and never refresh;
rotation is the job of whatever produced the value. OAuth sources live in oauth.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ccproxy.config.models import CommandAuth, FileAuth
from ccproxy.providers.errors import AuthConfigError


@dataclass(frozen=True, slots=True)
class Credential:
    token: str
    # Extra headers the provider's backend expects next to the token (Codex's account id).
    headers: dict[str, str] = field(default_factory=dict)


class AuthSource(ABC):
    kind: ClassVar[str]
    # Whether a 401 can be cured by asking the token endpoint for a new token.
    refreshable: ClassVar[bool] = False

    def __init__(self, provider: str) -> None:
        self.provider = provider

    @abstractmethod
    async def resolve(self, *, rejected: str | None = None) -> Credential:
        """The credential to send now. `rejected` is a token upstream just refused:
        the source must not hand it out again without re-checking its origin."""

    def error(self, message: str, status: int = 502, detail: str = "") -> AuthConfigError:
        return AuthConfigError(
            f"provider {self.provider!r}: {message}", provider=self.provider, status=status, detail=detail
        )


def first_line(data: bytes) -> str:
    for line in data.decode("utf-8", "replace").splitlines():
        if line.strip():
            return line.strip()
    return ""


class CommandSource(AuthSource):
    kind = "command"

    def __init__(self, provider: str, cfg: CommandAuth) -> None:
        super().__init__(provider)
        self.command = cfg.command
        self.timeout = cfg.timeout

    async def resolve(self, *, rejected: str | None = None) -> Credential:
        # A subprocess through asyncio: a slow secret manager never stalls other flows.
        try:
            proc = await asyncio.create_subprocess_shell(
                self.command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as e:
            raise self.error(f"auth command could not start: {e.strerror or e}") from e
        try:
            out, err = await asyncio.wait_for(proc.communicate(), self.timeout)
        except TimeoutError:
            _kill_group(proc)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(proc.wait(), 2)
            raise self.error(f"auth command timed out after {self.timeout:g}s") from None
        except asyncio.CancelledError:
            _kill_group(proc)
            raise
        # The command's stderr goes to the log only: it may echo what it was reading.
        if proc.returncode != 0:
            detail = first_line(err) or "no output on stderr"
            raise self.error(f"auth command exited with status {proc.returncode} (its stderr is in the ccproxy log)",
                             detail=f"stderr: {detail}")  # fmt: skip
        token = out.decode("utf-8", "replace").strip()
        if not token:
            detail = first_line(err)
            raise self.error("auth command printed nothing", detail=f"stderr: {detail}" if detail else "")
        return Credential(token)


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    # The shell's children (jq, op, sops...) die with it: they share the new session's group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


class FileSource(AuthSource):
    kind = "file"

    def __init__(self, provider: str, cfg: FileAuth) -> None:
        super().__init__(provider)
        self.path = Path(cfg.file_path).expanduser()

    async def resolve(self, *, rejected: str | None = None) -> Credential:
        try:
            text = await asyncio.to_thread(self.path.read_text, encoding="utf-8")
        except OSError as e:
            raise self.error(f"cannot read auth file {self.path}: {e.strerror or e}") from e
        token = text.strip()
        if not token:
            raise self.error(f"auth file {self.path} is empty")
        return Credential(token)
