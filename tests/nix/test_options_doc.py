from __future__ import annotations

from tests.nix.options_doc import DOC, current_block, generate


def test_options_reference_in_docs_is_current() -> None:
    assert current_block(DOC.read_text()) == generate(), "run: python -m tests.nix.options_doc"
