"""What to select from the flow store: ``FlowQuery``, and its ``GET /flows`` query parameters
(one place for the names, both directions). Light: the CLI imports it without mitmproxy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ccproxy.flows.columns import FlowColumns


@dataclass(frozen=True)
class FlowQuery:
    """Filters pushed down to SQL. ``limit`` keeps the newest N matches; results are oldest first."""

    since: float | None = None
    until: float | None = None
    host: str | None = None
    path_prefix: str | None = None
    provider: str | None = None
    session: str | None = None
    model: str | None = None
    limit: int | None = None
    after: int | None = None  # seq cursor: rows after it (paging)
    ids: tuple[str, ...] | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        for column, value in (
            ("host", self.host),
            ("provider", self.provider),
            ("session_id", self.session),
            ("model", self.model),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if self.since is not None:
            clauses.append("ts_start >= ?")
            args.append(self.since)
        if self.until is not None:
            clauses.append("ts_start < ?")
            args.append(self.until)
        if self.path_prefix is not None:
            clauses.append("substr(path, 1, ?) = ?")
            args += [len(self.path_prefix), self.path_prefix]
        if self.after is not None:
            clauses.append("seq > ?")
            args.append(self.after)
        if self.ids is not None:
            clauses.append(f"id IN ({','.join('?' * len(self.ids))})")
            args += list(self.ids)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args

    def matches(self, c: FlowColumns) -> bool:
        """The same filters, for in-flight flows that are not in the database yet."""
        return (
            (self.host is None or c.host == self.host)
            and (self.provider is None or c.provider == self.provider)
            and (self.session is None or c.session_id == self.session)
            and (self.model is None or c.model == self.model)
            and (self.since is None or c.ts_start >= self.since)
            and (self.until is None or c.ts_start < self.until)
            and (self.path_prefix is None or c.path.startswith(self.path_prefix))
            and (self.ids is None or c.id in self.ids)
        )


ALL = FlowQuery()  # immutable: every flow

# query parameter -> FlowQuery field
PARAMS = {
    "limit": "limit",
    "since": "since",
    "until": "until",
    "host": "host",
    "path_prefix": "path_prefix",
    "provider": "provider",
    "session": "session",
    "model": "model",
    "after": "after",
}
_INTS = {"limit", "after"}
_FLOATS = {"since", "until"}
NEXT_HEADER = "x-ccproxy-next"


def parse_query(params: Mapping[str, str]) -> FlowQuery:
    """Raises ValueError naming the parameter when a value is not what it must be."""
    values: dict[str, Any] = {}
    for name, target in PARAMS.items():
        raw = params.get(name)
        if raw is None or raw == "":
            continue
        try:
            if name in _INTS:
                value: Any = int(raw)
                if value < 0:
                    raise ValueError
            elif name in _FLOATS:
                value = float(raw)
            else:
                value = raw
        except ValueError:
            kind = "a non-negative integer" if name in _INTS else "a Unix timestamp"
            raise ValueError(f"query parameter {name}={raw!r}: must be {kind}") from None
        values[target] = value
    return FlowQuery(**values)


def to_params(query: FlowQuery) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, target in PARAMS.items():
        value = getattr(query, target)
        if value is not None:
            out[name] = str(value)
    return out
