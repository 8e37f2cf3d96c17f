"""The table row of a flow: the few fields `flows list` prints, in three spellings of one
projection (keep them in step).

- ``ROW_PROJECTION``: jq, after the user's filters (they may read any field of a flow);
- ``ROW_SQL``: SQLite, straight from the stored summary, when there is no filter (`GET
  /flows?rows=1`): the daemon sends ~200 bytes a flow instead of the whole summary, and
  ``->`` keeps each value's JSON text as stored (numbers are not re-rounded);
- ``row_view``: Python, for in-flight flows that are not in the database yet.
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

_UA = '"user-agent"'
ROW_SQL = (
    "json_object('id', summary -> '$.id', 'timestamp_start', summary -> '$.timestamp_start',"
    " 'error', summary -> '$.error',"
    " 'request', json_object('method', summary -> '$.request.method',"
    " 'pretty_host', summary -> '$.request.pretty_host', 'host', summary -> '$.request.host',"
    " 'path', summary -> '$.request.path',"
    f" 'headers', json_object('user-agent', summary -> '$.request.headers.{_UA}')),"
    " 'client_request', CASE WHEN json_type(summary, '$.client_request') = 'object'"
    f" THEN json_object('headers', json_object('user-agent', summary -> '$.client_request.headers.{_UA}'))"
    " END,"
    " 'response', CASE WHEN json_type(summary, '$.response') = 'object'"
    " THEN json_object('status_code', summary -> '$.response.status_code') END)"
)


def _ua(message: dict[str, Any]) -> dict[str, Any]:
    return {"headers": {"user-agent": (message.get("headers") or {}).get("user-agent")}}


def row_view(flow: dict[str, Any]) -> dict[str, Any]:
    request = flow.get("request") or {}
    client, response = flow.get("client_request"), flow.get("response")
    return {
        "id": flow.get("id"),
        "timestamp_start": flow.get("timestamp_start"),
        "error": flow.get("error"),
        "request": {**{k: request.get(k) for k in ("method", "pretty_host", "host", "path")}, **_ua(request)},
        "client_request": _ua(client) if client else None,
        "response": {"status_code": response.get("status_code")} if response else None,
    }
