"""How the store keeps a flow's records (its mitmproxy record and its /flows JSON): compressed
with zstd unless small (pure; no mitmproxy import, so that `flows list` offline stays light).

- zstd level 1: on a flow with a 46 KB prompt it is ~5x faster than zlib level 1 and writes
  less than half as many bytes (its window spans the request body's second copy, the client's
  snapshot, which zlib's 32 KB window does not).
- Records below `RAW_BELOW` bytes are stored as they are: compressing a few KB costs the writer
  more than the bytes it saves are worth.

A reader tells them apart by the first bytes: a zstd frame starts with its magic number
``28 b5 2f fd``, a zlib stream (what earlier versions wrote, and what this one writes where no
zstd module is installed) with 0x78 ``x``, a tnetstring with a digit and JSON text with ``{``.
Rows written by earlier versions read the same.
"""

from __future__ import annotations

import functools
import importlib
import zlib
from collections.abc import Callable
from typing import Any

LEVEL = 1
RAW_BELOW = 4096
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _module() -> tuple[str, Any] | None:
    """The zstd module installed: the stdlib's (Python 3.14) or its backport (which mitmproxy
    >= 12.3 depends on), else `zstandard` (mitmproxy 12.2's)."""
    for name in ("compression.zstd", "backports.zstd", "zstandard"):
        try:
            return name, importlib.import_module(name)
        except ImportError:
            continue
    return None


class Packer:
    """Packs the writer's records. One per writer: a zstd context is not thread-safe, and building
    one per record (what the one-shot `compress` functions do) allocates megabytes each time,
    with the GIL held."""

    def __init__(self) -> None:
        self._compress: Callable[[bytes], bytes] | None = None

    def pack(self, data: bytes) -> bytes:
        if len(data) < RAW_BELOW:
            return data
        if self._compress is None:
            self._compress = _compressor()
        return self._compress(data)


def _compressor() -> Callable[[bytes], bytes]:
    found = _module()
    if found is None:
        return lambda data: zlib.compress(data, LEVEL)
    name, mod = found
    if name == "zstandard":
        return mod.ZstdCompressor(level=LEVEL).compress
    context = mod.ZstdCompressor(level=LEVEL)
    return lambda data: bytes(context.compress(data, mod.ZstdCompressor.FLUSH_FRAME))


@functools.cache
def _decompress() -> Callable[[bytes], bytes] | None:
    found = _module()
    if found is None:
        return None
    name, mod = found
    if name == "zstandard":
        # a streaming decompressor: it also reads frames that do not carry their content size
        return lambda blob: bytes(mod.ZstdDecompressor().decompressobj().decompress(blob))
    return lambda blob: bytes(mod.decompress(blob))


def unpack(blob: bytes) -> bytes:
    if blob[:1] == b"x":
        return zlib.decompress(blob)
    if blob[:4] == ZSTD_MAGIC:
        decompress = _decompress()
        if decompress is None:
            raise ValueError("a stored flow is zstd-compressed and no zstd module is installed (pip install zstandard)")
        return decompress(blob)
    return blob
