"""Token and cost totals per group, from the flow store's indexed usage columns.

Reads ``StoredFlow`` rows (``FlowStore.rows``): the columns the writer computed from each flow
(streamed usage included, see flows/tokens.py) and the flow summary JSON for ``--jq`` and the
client's user agent. Blocking: a CLI-side or thread-side function.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from ccproxy.flows.jqchain import apply_filters
from ccproxy.usage.prices import Pricer

GroupBy = Literal["session", "model", "provider", "client", "day"]
GROUPS: tuple[GroupBy, ...] = ("session", "model", "provider", "client", "day")


@dataclass
class Totals:
    key: str
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost: Decimal = Decimal(0)  # of the priced requests only
    unpriced: int = 0  # requests whose model has no known price
    unpriced_models: set[str] = field(default_factory=set)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def add(self, other: Totals) -> None:
        self.requests += other.requests
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.cost += other.cost
        self.unpriced += other.unpriced
        self.unpriced_models |= other.unpriced_models

    def as_json(self, by: str) -> dict[str, Any]:
        return {
            by: self.key,
            "requests": self.requests,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            # null when nothing in the group has a known price; never a made-up 0
            "cost_usd": float(self.cost) if self.requests > self.unpriced else None,
            "unpriced_requests": self.unpriced,
            "unpriced_models": sorted(self.unpriced_models),
        }


@dataclass
class UsageReport:
    by: GroupBy
    groups: list[Totals]
    total: Totals

    def as_json(self) -> dict[str, Any]:
        return {"by": self.by, "groups": [g.as_json(self.by) for g in self.groups], "total": self.total.as_json("key")}


_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def when(value: str | None, now: float) -> float | None:
    """`7d`, `12h`, `30m` (before now), or an ISO date/time (`2026-11-30`, `2026-11-30T12:00`;
    local time unless it has an offset). Raises ValueError."""
    if value is None:
        return None
    match = _RELATIVE.match(value.strip())
    if match:
        return now - int(match.group(1)) * _UNIT_S[match.group(2)]
    try:
        return datetime.datetime.fromisoformat(value.strip()).timestamp()
    except ValueError as e:
        raise ValueError(f"{value!r}: use a duration (7d, 12h, 30m) or a date (2026-11-30)") from e


def _user_agent(summary: dict[str, Any]) -> str | None:
    headers = (summary.get("client_request") or {}).get("headers") or {}
    ua = headers.get("user-agent")
    return str(ua).split(" ", 1)[0] if ua else None


def group_key(by: GroupBy, row: Any, summary: dict[str, Any]) -> str:
    c = row.columns
    if by == "session":
        return c.session_id or c.conversation_key or "(none)"
    if by == "model":
        return c.model or "(unknown)"
    if by == "provider":
        return c.provider or "(none)"
    if by == "client":
        return _user_agent(summary) or c.client_wire or "(unknown)"
    return datetime.datetime.fromtimestamp(c.ts_start, datetime.UTC).strftime("%Y-%m-%d")


def build_report(rows: Iterable[Any], by: GroupBy, pricer: Pricer, jq_filters: Sequence[str] = ()) -> UsageReport:
    """``rows``: StoredFlow rows. Flows without reported usage (errors, non-LLM traffic) are skipped."""
    rows = [r for r in rows if r.columns.input_tokens is not None or r.columns.output_tokens is not None]
    summaries = {r.columns.id: json.loads(r.summary) for r in rows}
    if jq_filters:
        kept = apply_filters(list(summaries.values()), jq_filters)
        ids = {f.get("id") for f in kept if isinstance(f, dict)}
        rows = [r for r in rows if r.columns.id in ids]
    groups: dict[str, Totals] = {}
    for row in rows:
        c = row.columns
        key = group_key(by, row, summaries[c.id])
        one = Totals(
            key=key,
            requests=1,
            input_tokens=c.input_tokens or 0,
            output_tokens=c.output_tokens or 0,
            cache_read_tokens=c.cache_read_tokens or 0,
            cache_write_tokens=c.cache_write_tokens or 0,
        )
        tokens = (one.input_tokens, one.output_tokens, one.cache_read_tokens, one.cache_write_tokens)
        # Priced per request: tiered prices (long prompts) depend on each request's size.
        billed = c.upstream_model or c.model  # a routed request is billed by the model it reached
        price = pricer.price(billed, c.upstream_wire, c.host, tokens, c.ts_start)
        if price is None:
            one.unpriced = 1
            one.unpriced_models = {billed or "(unknown)"}
        else:
            one.cost = price
        groups.setdefault(key, Totals(key=key)).add(one)
    total = Totals(key="total")
    for g in groups.values():
        total.add(g)
    if by == "day":
        ordered = sorted(groups.values(), key=lambda g: g.key)
    else:
        ordered = sorted(groups.values(), key=lambda g: (-g.total_tokens, g.key))
    return UsageReport(by=by, groups=ordered, total=total)
