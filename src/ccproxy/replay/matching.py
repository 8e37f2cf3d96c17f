"""Which recorded exchange answers a request (pure; no I/O).

First method + path + the hash of the normalised body (JSON re-serialised with sorted keys,
so key order and whitespace do not matter); recordings with the same key are served in their
recorded order, the last one again once they are used up. Unless strict, a request with no
such match gets the next unused recording of the same method and path. Anything else is a miss,
explained by the nearest recording and a short body diff.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass

from ccproxy.replay.recording import Exchange

DIFF_LINES = 12


def normalise(body: bytes) -> bytes:
    try:
        return json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except (ValueError, UnicodeDecodeError):
        return body


def body_hash(body: bytes) -> str:
    return hashlib.sha256(normalise(body)).hexdigest()


@dataclass
class Miss:
    message: str


class Matcher:
    def __init__(self, exchanges: list[Exchange], *, strict: bool = False) -> None:
        self.exchanges = exchanges
        self.strict = strict
        self._exact: dict[tuple[str, str, str], list[int]] = defaultdict(list)
        self._by_path: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, ex in enumerate(exchanges):
            self._exact[(ex.method, ex.path, body_hash(ex.request_body))].append(i)
            self._by_path[(ex.method, ex.path)].append(i)
        self._served: dict[tuple[str, str, str], int] = defaultdict(int)
        self._used: set[int] = set()

    def match(self, method: str, path: str, body: bytes) -> Exchange | Miss:
        path = path.split("?", 1)[0]
        key = (method, path, body_hash(body))
        candidates = self._exact.get(key)
        if candidates:
            n = self._served[key]
            self._served[key] = n + 1
            index = candidates[min(n, len(candidates) - 1)]
            self._used.add(index)
            return self.exchanges[index]
        if not self.strict:
            for index in self._by_path.get((method, path), []):
                if index not in self._used:
                    self._used.add(index)
                    return self.exchanges[index]
        return Miss(self._explain(method, path, body))

    def _explain(self, method: str, path: str, body: bytes) -> str:
        head = f"ccproxy replay: no recorded response for {method} {path}"
        if not self.exchanges:
            return head + " (the recording is empty)"
        same_path = [ex for ex in self.exchanges if (ex.method, ex.path) == (method, path)]
        pool = same_path or self.exchanges
        mine = normalise(body).decode("utf-8", "replace")

        def likeness(ex: Exchange) -> float:
            return difflib.SequenceMatcher(None, normalise(ex.request_body).decode("utf-8", "replace"), mine).ratio()

        nearest = max(pool, key=likeness)
        theirs = normalise(nearest.request_body).decode("utf-8", "replace")
        diff = list(difflib.unified_diff(_lines(theirs), _lines(mine), "recorded", "request", n=0, lineterm=""))[2:]
        shown = diff[:DIFF_LINES] + (["..."] if len(diff) > DIFF_LINES else [])
        why = "; used up (--strict)" if same_path and self.strict else ""
        detail = " | ".join(shown) if shown else "(bodies equal)"
        return f"{head}; nearest recorded: {nearest.method} {nearest.path}{why}; body diff: {detail}"


def _lines(normalised_json: str) -> list[str]:
    """One line per top-level key/value (or the text's own lines), so a diff names what changed."""
    try:
        doc = json.loads(normalised_json)
    except ValueError:
        return normalised_json.splitlines()
    if isinstance(doc, dict):
        return [f"{k}: {json.dumps(v, sort_keys=True, ensure_ascii=False)[:200]}" for k, v in doc.items()]
    return [normalised_json[:400]]
