"""`python -m tests.conformance`: run the matrix and write docs/conformance.md.

The matrix lives with the tests because its cells *are* tests (tests/conformance/test_matrix.py):
one pytest run both checks the committed file (CI) and, with CCPROXY_WRITE_CONFORMANCE=1, writes
it, so there is no second runner or results file to keep in step.
"""

from __future__ import annotations

import os
import sys

import pytest

if __name__ == "__main__":
    os.environ["CCPROXY_WRITE_CONFORMANCE"] = "1"
    here = os.path.dirname(os.path.abspath(__file__))
    code = pytest.main([os.path.join(here, "test_matrix.py"), "-q", "-p", "no:cacheprovider", *sys.argv[1:]])
    # failing cells are rendered as ❌ all the same; the doc is written either way
    sys.exit(0 if code in (0, 1) else code)
