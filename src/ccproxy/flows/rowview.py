"""The table row of a flow: the few fields `flows list` prints, in three spellings of one
projection (keep them in step; tests/flows/test_store.py checks that they agree).

- ``ROW_PROJECTION``: jq, after the user's filters (they may read any field of a flow); it
  keeps each flow an object, so the rows go on to ``table_row``;
- ``TABLE_SQL``: SQLite, from the stored columns alone, when there is no filter (`GET
  /flows?table=1`): each flow as the array ``table_row`` makes, ~120 bytes a flow, with no
  JSON to extract from the stored summary;
- ``table_row``: Python, from a flow object (a ROW_PROJECTION row, a whole flow from a daemon
  that predates ``table=1``, an in-flight flow that is not in the database yet).
"""

from __future__ import annotations

from typing import Any

ROW_PROJECTION = (
    'def ua: {"user-agent": .headers["user-agent"]};'
    " map({id, timestamp_start, error,"
    " request: (.request | {method, pretty_host, host, path, headers: ua}),"
    " client_request: (.client_request | if . then {headers: ua} else null end),"
    " response: (.response | if . then {status_code} else null end)})"
)

# [id, method, status (null: no response), failed (1: an error), host, path, user agent, start]
# The start time is printed with 17 digits: SQLite's JSON would round a REAL to 15.
TABLE_SQL = (
    "json_array(id, method, status, error IS NOT NULL, host, path, user_agent, json(printf('%!.17g', ts_start)))"
)


def _header(message: dict[str, Any] | None, name: str) -> str | None:
    if not message:
        return None
    headers = message.get("headers") or {}
    value = headers.get(name)
    if value is None:
        # The contract lowercases names; tolerate a producer that did not.
        for key, val in headers.items():
            if key.lower() == name and val is not None:  # the row projection yields null for a missing header
                return str(val)
        return None
    return str(value)


def table_row(flow: dict[str, Any]) -> list[Any]:
    """The TABLE_SQL array of a flow object."""
    request = flow.get("request") or {}
    response = flow.get("response")
    # The user agent the client sent, before shape replay may have replaced it.
    ua = _header(flow.get("client_request"), "user-agent") or _header(request, "user-agent") or None
    return [
        flow.get("id"),
        request.get("method"),
        response.get("status_code") if response else None,
        1 if flow.get("error") else 0,
        request.get("pretty_host") or request.get("host"),
        request.get("path"),
        ua,
        flow.get("timestamp_start"),
    ]
