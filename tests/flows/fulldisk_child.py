"""Run by test_store.py inside a private mount namespace whose argv[1] is a 2 MiB tmpfs."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from storekit import quick_flow

from ccproxy.flows.store import DB_FILE, FlowStore


class Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def main() -> int:
    root = Path(sys.argv[1])
    counter = Count()
    logging.getLogger("ccproxy.flows.store").addHandler(counter)
    store = FlowStore(root / DB_FILE, max_flows=10_000, max_bytes=10**9)
    store.open()
    body = os.urandom(20_000)  # incompressible
    # Fill the disk but for a little room, then record until the disk is full.
    filler = root / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    os.truncate(filler, max(filler.stat().st_size - 200_000, 0))
    results = [store.complete(quick_flow(response_body=body)).result(30) for _ in range(60)]
    lost = results.count(False)
    kept = results.count(True)
    warnings = [m for m in counter.messages if "cannot record" in m]
    print(f"kept {kept} lost {lost} warnings {len(warnings)}")
    if lost == 0 or len(warnings) != 1:
        print("RESULT expected losses and exactly one warning")
        return 1
    filler.unlink()  # space returns: recording resumes by itself
    later = [quick_flow(response_body=body) for _ in range(5)]
    if not all(store.complete(f).result(30) for f in later):
        print("RESULT recording did not resume")
        return 1
    store.close()
    store.open()
    ids = {f.id for f in store}
    store.close()
    if not all(f.id in ids for f in later) or len(ids) != kept + len(later):
        print(f"RESULT after restart {len(ids)} flows, expected {kept + len(later)}")
        return 1
    print("RESULT ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
