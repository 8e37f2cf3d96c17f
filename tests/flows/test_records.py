"""The store's record encoding (flows.records): what each kind of blob reads back as."""

from __future__ import annotations

import zlib

import pytest

from ccproxy.flows import records

SMALL_TNET = b"12:5:hello;0:~}"
SMALL_JSON = b'{"id": "x"}'
LARGE = b'{"messages": "' + b"word " * 2000 + b'"}'


@pytest.mark.parametrize("data", [SMALL_TNET, SMALL_JSON, b"", LARGE, LARGE * 20], ids=len)
def test_pack_round_trips(data: bytes) -> None:
    blob = records.Packer().pack(data)
    assert records.unpack(blob) == data
    if len(data) < records.RAW_BELOW:
        assert blob == data  # stored as it is
    else:
        assert blob[:4] == records.ZSTD_MAGIC and len(blob) < len(data) // 4


def test_rows_of_earlier_versions_are_zlib_and_read_the_same() -> None:
    for data in (SMALL_TNET, SMALL_JSON, LARGE):
        assert records.unpack(zlib.compress(data, 1)) == data
        assert records.unpack(zlib.compress(data, 6)) == data


def test_a_zstd_frame_without_its_content_size_reads() -> None:
    zstandard = pytest.importorskip("zstandard", reason="zstandard (PyPI: zstandard) is not installed")
    stream = zstandard.ZstdCompressor(level=1).compressobj()
    blob = stream.compress(LARGE) + stream.flush()
    assert records.unpack(blob) == LARGE
