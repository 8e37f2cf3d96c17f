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


@functools.cache
def _zstd() -> tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]] | None:
    """(compress, decompress) of the zstd module installed: the stdlib's (Python 3.14) or its
    backport (which mitmproxy >= 12.3 depends on), else `zstandard` (mitmproxy 12.2's)."""
    for name in ("compression.zstd", "backports.zstd"):
        try:
            return _module_functions(importlib.import_module(name))
        except ImportError:
            continue
    try:
        import zstandard
    except ImportError:
        return None

    def decompress(blob: bytes) -> bytes:
        # a streaming decompressor: it also reads frames that do not carry their content size
        return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(blob))

    return (lambda data: bytes(zstandard.compress(data, LEVEL))), decompress


def _module_functions(mod: Any) -> tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]:
    return (lambda data: bytes(mod.compress(data, LEVEL))), (lambda blob: bytes(mod.decompress(blob)))


def pack(data: bytes) -> bytes:
    if len(data) < RAW_BELOW:
        return data
    zstd = _zstd()
    return zstd[0](data) if zstd is not None else zlib.compress(data, LEVEL)


def unpack(blob: bytes) -> bytes:
    if blob[:1] == b"x":
        return zlib.decompress(blob)
    if blob[:4] == ZSTD_MAGIC:
        zstd = _zstd()
        if zstd is None:
            raise ValueError("a stored flow is zstd-compressed and no zstd module is installed (pip install zstandard)")
        return zstd[1](blob)
    return blob
