"""ccproxy's tnetstring encoder against mitmproxy's: the same bytes for every value, and
mitmproxy's reader (what `mitmdump -r` uses) gets the same value back."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

import pytest
from mitmproxy.io import tnetstring as mitm_tnetstring
from storekit import quick_flow

from ccproxy.flows import mitmformat, tnetstring


class Level(enum.IntEnum):
    HIGH = 3


VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -17,
    2**80,
    1.5,
    -0.0,
    1e300,
    "",
    "héllo ☃ 🙂",
    b"",
    b"\x00\xff binary",
    [],
    (),
    {},
    [None, True, 1, 2.5, "s", b"b", [[], {}], ()],
    {"b": 1, "a": {"nested": [b"x", ("t", 2)]}, "": None},
    {"z": [{"k": v} for v in (1, "two", b"three", None, 4.0)]},
    Level.HIGH,  # an int subclass: mitmproxy's encoder decides
    [(b"content-type", b"application/json"), (b"", b"\x00\xff"), (b"k", "str"), (b"a", b"b", b"c")],  # header pairs
    {"headers": ((b"x", b"1"),), "timestamp_start": 1.5, "metadata": {"id": "k"}},  # the keys encoded once
    [Level.HIGH, {"level": Level.HIGH}],
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_same_bytes_as_mitmproxy(value: Any) -> None:
    assert tnetstring.dumps(value) == mitm_tnetstring.dumps(value)


def test_flow_states_encode_identically_and_load_back() -> None:
    flows = [
        quick_flow(),
        quick_flow("/v1/chat/completions?key=1", host="api.openai.com", request_body=b"\x00\x01" * 300),
        quick_flow(response_body="ünïcode ".encode() * 1000, meta={"ccproxy.stream": True, "n": 1.25}),
    ]
    for flow in flows:
        state = flow.get_state()
        encoded = tnetstring.dumps(state)
        assert encoded == mitm_tnetstring.dumps(state)
        assert mitm_tnetstring.loads(encoded) == mitm_tnetstring.loads(mitm_tnetstring.dumps(state))


@pytest.mark.parametrize("value", [object(), {"k": {1, 2}}, [complex(1, 2)]], ids=["object", "set", "complex"])
def test_unserialisable_values_raise_as_mitmproxy_does(value: Any) -> None:
    with pytest.raises(ValueError, match="unserializable"):
        tnetstring.dumps(value)


def test_states_of_a_real_flow_file_encode_identically() -> None:
    """Flows written by mitmproxy itself (the legacy store file in tests/flows/data)."""
    flows = list(mitmformat.read_file(Path(__file__).parent / "data" / "legacy-flows.mitm"))
    assert flows
    for flow in flows:
        state = flow.get_state()
        assert tnetstring.dumps(state) == mitm_tnetstring.dumps(state)
