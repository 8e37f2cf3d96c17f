"""Client ids derived from upstream ids: stable, in the client's shape, digits as the plain definition."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from ccproxy.lightllm import ids

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def one_digit_at_a_time(digest: bytes, n: int) -> str:
    v, out = int.from_bytes(digest, "big"), []
    for _ in range(n):
        v, r = divmod(v, 62)
        out.append(ALPHABET[r])
    return "".join(out)


@given(st.binary(min_size=0, max_size=40), st.integers(min_value=0, max_value=60))
def test_base62_is_the_digit_by_digit_definition(digest: bytes, n: int) -> None:
    assert ids._base62(digest, n) == one_digit_at_a_time(digest, n)


def test_client_id_is_stable_and_shaped() -> None:
    got = ids.client_id("openai", "msg_01abc")
    assert got == ids.client_id("openai", "msg_01abc")
    assert got == "chatcmpl-" + one_digit_at_a_time(hashlib.sha256(b"msg_01abc").digest(), 24)
    assert ids.client_id("anthropic", "msg_01abc") == "msg_01abc"  # already the client's shape
