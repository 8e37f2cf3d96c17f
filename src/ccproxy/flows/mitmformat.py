"""mitmproxy's flow serialisation (tnetstring of ``Flow.get_state()``), fenced in one module.

The store keeps each flow in this format (compressed unless small: `flows.records`), so a row
becomes an ``HTTPFlow`` again, and `flows export` writes it as a file that ``mitmweb -r`` / ``mitmdump -r`` open.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mitmproxy import http, io
from mitmproxy.exceptions import FlowReadException
from mitmproxy.io import compat, tnetstring

from ccproxy.flows import records
from ccproxy.flows import tnetstring as fast_tnetstring


def pack_state(state: dict[str, Any], packer: records.Packer) -> bytes:
    """One flow state as a record (what the store's `data` column holds): encoded by ccproxy's
    encoder, which writes mitmproxy's bytes in ~40% of its time; compressed unless small."""
    return packer.pack(fast_tnetstring.dumps(state))


def unpack_raw(blob: bytes) -> bytes:
    """The record as mitmproxy's file format (one flow)."""
    return records.unpack(blob)


def unpack_flow(blob: bytes) -> http.HTTPFlow:
    state = tnetstring.loads(unpack_raw(blob))
    if not isinstance(state, dict):
        raise ValueError("stored flow is not a flow state")
    flow = http.HTTPFlow.from_state(compat.migrate_flow(state))
    if not isinstance(flow, http.HTTPFlow):
        raise ValueError("stored flow is not an HTTP flow")
    return flow


def read_file(path: Path) -> Iterator[http.HTTPFlow]:
    """The HTTP flows of a mitmproxy flow file; raises FlowReadException at a damaged record."""
    with path.open("rb") as fh:
        for flow in io.FlowReader(fh).stream():
            if isinstance(flow, http.HTTPFlow):
                yield flow


__all__ = ["FlowReadException", "pack_state", "read_file", "unpack_flow", "unpack_raw"]
