"""How the store keeps a flow's records (its mitmproxy record and its /flows JSON): compressed
with zlib unless small (pure; no mitmproxy import, so that `flows list` offline stays light).

Compressing a few KB costs the writer more than the bytes it saves are worth, so records below
`RAW_BELOW` bytes are stored as they are. A reader tells the two apart by the first byte: a zlib
stream (deflate, 32 KB window, as zlib.compress writes it) starts with 0x78 ``x``, a tnetstring
with a digit and JSON text with ``{``. Rows written by earlier versions are always compressed and
read the same.
"""

from __future__ import annotations

import zlib

# zlib level 1: JSON bodies still shrink 5-10x, at a fraction of the default level's CPU.
LEVEL = 1
RAW_BELOW = 4096


def pack(data: bytes) -> bytes:
    return data if len(data) < RAW_BELOW else zlib.compress(data, LEVEL)


def unpack(blob: bytes) -> bytes:
    return zlib.decompress(blob) if blob[:1] == b"x" else blob
