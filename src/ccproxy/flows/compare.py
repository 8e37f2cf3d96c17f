"""Per flow: what the pipeline changed between the client's request and the forwarded one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ccproxy.flows.bodies import pretty_lines
from ccproxy.flows.diff import short_id, unified


@dataclass(frozen=True)
class FlowComparison:
    flow_id: str
    url_change: tuple[str, str] | None  # (client URL, forwarded URL) with method when it changed
    body_diff: list[str]  # unified diff lines, empty when identical
    missing_snapshot: bool = False
    # "+ name: value" / "- name: value" / "~ name: before -> after", as /flows shows them (redacted)
    header_changes: list[str] = field(default_factory=list)
    shape: str | None = None  # the shape the `shape` hook applied

    @property
    def identical_bodies(self) -> bool:
        return not self.missing_snapshot and not self.body_diff


def _target(message: dict[str, Any]) -> str:
    return f"{message.get('method', '')} {message.get('url', '')}".strip()


# Set by the transport, not by ccproxy: their changes say nothing about the pipeline.
_TRANSPORT_HEADERS = frozenset({"content-length", "host", "transfer-encoding", "connection"})


def header_changes(client: dict[str, Any], forwarded: dict[str, Any]) -> list[str]:
    before = {k.lower(): v for k, v in (client.get("headers") or {}).items() if k.lower() not in _TRANSPORT_HEADERS}
    after = {k.lower(): v for k, v in (forwarded.get("headers") or {}).items() if k.lower() not in _TRANSPORT_HEADERS}
    changes = [f"- {k}: {before[k]}" for k in before if k not in after]
    changes += [f"~ {k}: {before[k]} -> {after[k]}" for k in before if k in after and before[k] != after[k]]
    changes += [f"+ {k}: {after[k]}" for k in after if k not in before]
    return changes


def compare_flow(flow: dict[str, Any]) -> FlowComparison:
    fid = short_id(flow)
    forwarded = flow.get("request") or {}
    client = flow.get("client_request")
    if not client:
        return FlowComparison(fid, None, [], missing_snapshot=True)
    url_change = None
    if client.get("url") != forwarded.get("url") or client.get("method") != forwarded.get("method"):
        if client.get("method") == forwarded.get("method"):
            url_change = (str(client.get("url", "")), str(forwarded.get("url", "")))
        else:
            url_change = (_target(client), _target(forwarded))
    body_diff = unified(pretty_lines(client), pretty_lines(forwarded), f"client:{fid}", f"forwarded:{fid}")
    applied = (flow.get("ccproxy") or {}).get("shape")
    shape = applied.get("shape") if isinstance(applied, dict) else None
    return FlowComparison(fid, url_change, body_diff, header_changes=header_changes(client, forwarded), shape=shape)


def compare_flows(flows: Sequence[dict[str, Any]]) -> list[FlowComparison]:
    return [compare_flow(f) for f in flows]
