"""Shape files on disk: `{shapes_dir}/{provider}.mflow`, in mitmproxy's flow format.

A file may hold several flows (each `shapes save` appends one, so the file is also the
history of a shape); the last one wins. Flows may be request-only. When a provider has
no local file, the shape packaged with ccproxy for its wire type is used
(`src/ccproxy/shapes/packaged/{wire}.mflow`, captured from the official open-source SDKs).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mitmproxy import http, io
from mitmproxy.exceptions import FlowReadException

from ccproxy.config import Config
from ccproxy.config.models import ShapeProfile
from ccproxy.lightllm.ir import Wire

log = logging.getLogger(__name__)

PACKAGED_DIR = Path(__file__).parent / "packaged"
SUFFIX = ".mflow"


class ShapeFileError(ValueError):
    """A shape file that cannot be read as mitmproxy flows."""


@dataclass(frozen=True, slots=True)
class Shape:
    provider: str
    source: Literal["local", "packaged"]
    path: Path
    flow: http.HTTPFlow  # the last flow of the file
    flows_in_file: int

    @property
    def request(self) -> http.Request:
        return self.flow.request

    @property
    def label(self) -> str:
        return f"{self.source}:{self.path.name}"

    @property
    def captured_at(self) -> float:
        return self.flow.request.timestamp_start


def read_shape_file(path: Path) -> list[http.HTTPFlow]:
    try:
        with path.open("rb") as f:
            flows = [fl for fl in io.FlowReader(f).stream() if isinstance(fl, http.HTTPFlow)]
    except (OSError, FlowReadException, ValueError, KeyError, TypeError) as e:
        raise ShapeFileError(f"{path}: not a readable mitmproxy flow file ({e})") from e
    if not flows:
        raise ShapeFileError(f"{path}: holds no HTTP flow")
    return flows


def write_shape_file(path: Path, flows: Sequence[http.HTTPFlow], *, append: bool) -> None:
    """Owner-only file; a rewrite goes through a temp file and rename, so a reader never sees half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if append and path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        with os.fdopen(fd, "ab") as f:
            writer = io.FlowWriter(f)
            for fl in flows:
                writer.add(fl)
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            writer = io.FlowWriter(f)
            for fl in flows:
                writer.add(fl)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def shape_path(shapes_dir: Path, provider: str) -> Path:
    return shapes_dir / f"{provider}{SUFFIX}"


def load_shape(provider: str, path: Path, source: Literal["local", "packaged"]) -> Shape:
    flows = read_shape_file(path)
    return Shape(provider, source, path, flows[-1], len(flows))


class ShapeLibrary:
    """The shapes the daemon applies, by provider, re-read when their file changes."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.shapes_dir = config.shapes_dir
        self._cache: dict[str, tuple[float, tuple[int, int] | None, Shape | None]] = {}

    def wire_of(self, provider: str) -> Wire | None:
        entry = self.config.ccproxy.providers.get(provider)
        return entry.wire if entry is not None else None

    def profile(self, provider: str) -> ShapeProfile:
        return self.config.ccproxy.shaping.providers.get(provider) or ShapeProfile()

    def candidates(self, provider: str) -> list[tuple[Path, Literal["local", "packaged"]]]:
        out: list[tuple[Path, Literal["local", "packaged"]]] = [(shape_path(self.shapes_dir, provider), "local")]
        wire = self.wire_of(provider)
        if wire is not None and self.config.ccproxy.shaping.packaged:
            out.append((shape_path(PACKAGED_DIR, wire), "packaged"))
        return out

    def find(self, provider: str) -> Shape | None:
        """The shape in force for `provider` (blocking file I/O: call it off the event loop)."""
        for path, source in self.candidates(provider):
            if path.is_file():
                return load_shape(provider, path, source)
        return None

    def is_stale(self, provider: str) -> bool:
        cached = self._cache.get(provider)
        return cached is None or time.monotonic() - cached[0] >= self.config.ccproxy.shaping.reload_seconds

    def cached(self, provider: str) -> Shape | None:
        cached = self._cache.get(provider)
        return cached[2] if cached else None

    def refresh(self, provider: str) -> Shape | None:
        """Re-read the provider's shape if its file changed (blocking; run it in a thread)."""
        stamp: tuple[int, int] | None = None
        for path, _source in self.candidates(provider):
            try:
                st = path.stat()
            except OSError:
                continue
            stamp = (st.st_mtime_ns, st.st_size)
            break
        previous = self._cache.get(provider)
        if previous is not None and previous[1] == stamp:
            shape = previous[2]
        else:
            try:
                shape = self.find(provider) if stamp is not None else None
            except ShapeFileError as e:
                # Once per change of the file: the stamp is cached with the failure.
                log.warning("shape for provider %r not applied: %s", provider, e)
                shape = None
        self._cache[provider] = (time.monotonic(), stamp, shape)
        return shape


def shape_rows(config: Config) -> list[dict[str, object]]:
    """The shape in force for each configured provider (and each local file), as plain data:
    what `ccproxy shapes list --json` prints and the MCP `list_shapes` tool returns."""
    from ccproxy.shapes.merge import client_family

    library = ShapeLibrary(config)
    names = sorted({*config.ccproxy.providers, *(p.stem for p in library.shapes_dir.glob(f"*{SUFFIX}"))})
    rows: list[dict[str, object]] = []
    for name in names:
        row: dict[str, object] = {"provider": name, "source": None, "path": None}
        try:
            found = library.find(name)
        except ShapeFileError as e:
            row["error"] = str(e)
            found = None
        if found is not None:
            req = found.request
            row.update(
                source=found.source,
                path=str(found.path),
                flows=found.flows_in_file,
                captured_at=found.captured_at,
                method=req.method,
                request_path=req.path.split("?")[0],
                client=client_family(req.headers.get("user-agent")),
                headers=len(req.headers),
            )
        rows.append(row)
    return rows
