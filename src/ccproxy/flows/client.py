"""The CLI's view of the daemon's ``/flows`` endpoints (see docs/flows.md for the contract)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ccproxy.access import loopback
from ccproxy.access.token import TOKEN_HEADER, read_token
from ccproxy.config.cli_view import CliView
from ccproxy.config.defaults import DEFAULT_HOST, DEFAULT_PORT
from ccproxy.flows.query import ALL, NEXT_HEADER, FlowQuery, to_params

if TYPE_CHECKING:
    from ccproxy.config import Config


class DaemonUnavailable(RuntimeError):
    """The daemon could not be reached or answered with an error."""


class DaemonNotRunning(DaemonUnavailable):
    """Nothing listens at the daemon's address (the CLI may read the database instead)."""


@dataclass(frozen=True)
class FlowsSettings:
    """What the flows commands need from configuration."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    default_jq_filters: tuple[str, ...] = field(default_factory=tuple)
    # The daemon's local token (state dir's control.token): reveal and delete need it.
    token: str | None = field(default=None, repr=False)
    # flows.db, read directly when the daemon is not running (None: no fallback).
    db_path: Path | None = None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def settings_from_config(config: Config | None, port: int | None = None, host: str | None = None) -> FlowsSettings:
    return settings_from_view(CliView.from_config(config) if config is not None else None, port=port, host=host)


def settings_from_view(view: CliView | None, port: int | None = None, host: str | None = None) -> FlowsSettings:
    """Where the daemon listens and the default filters: options, then env, then config."""
    env_port = os.environ.get("CCPROXY_PORT")
    if port is None and env_port:
        try:
            port = int(env_port)
        except ValueError as e:
            raise ValueError(f"CCPROXY_PORT: invalid port {env_port!r}") from e
    return FlowsSettings(
        host=host or os.environ.get("CCPROXY_HOST") or (view.host if view else DEFAULT_HOST),
        port=port if port is not None else (view.port if view else DEFAULT_PORT),
        default_jq_filters=view.default_jq_filters if view else (),
        token=read_token(view.state_dir) if view is not None else None,
        db_path=view.state_dir / "flows.db" if view is not None and view.persist else None,
    )


class FlowClient:
    """Thin synchronous client (standard library, see access.loopback); every failure becomes
    :class:`DaemonUnavailable`."""

    def __init__(self, base_url: str, timeout: float = 30.0, token: str | None = None):
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._headers = {TOKEN_HEADER: token} if token else {}

    def __enter__(self) -> FlowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        pass  # one connection per request: nothing is held open

    def _request(self, method: str, path: str, params: dict[str, str] | None = None) -> loopback.Reply:
        try:
            response = loopback.request(self.base_url, method, path, params, self._headers, self._timeout)
        except loopback.NotListening as e:
            raise DaemonNotRunning(f"ccproxy is not running at {self.base_url} (start it with `ccproxy start`)") from e
        except loopback.ControlError as e:
            raise DaemonUnavailable(f"ccproxy daemon at {self.base_url} failed: {e}") from e
        if response.status_code == 404 and path.startswith("/flows/"):
            return response
        if response.status_code >= 400:
            try:
                why = response.json().get("error")
            except (ValueError, AttributeError):
                why = None
            raise DaemonUnavailable(
                f"ccproxy daemon at {self.base_url}: {method} {path} -> HTTP {response.status_code}"
                + (f": {why}" if isinstance(why, str) else "")
            )
        return response

    def list_text(self, bodies: bool = False, reveal: bool = False, query: FlowQuery = ALL, rows: bool = False) -> str:
        """The flow array as the daemon's JSON text (cheapest input for the jq chain).

        The daemon answers in pages of bounded size (its memory must not grow with the store);
        the pages are joined here."""
        params = to_params(query)
        if bodies:
            params["bodies"] = "1"
        if reveal:
            params["reveal"] = "1"
        if rows:  # table rows only (flows.rowview); a daemon that predates it sends whole flows
            params["table"] = "1"
        pages: list[str] = []
        while True:
            response = self._request("GET", "/flows", params)
            pages.append(response.text)
            cursor = response.headers.get(NEXT_HEADER)
            if not cursor:
                break
            params["after"] = cursor
        return join_pages(pages)

    def export_records(self, ids: list[str]) -> bytes:
        """The stored flows ``ids`` in mitmproxy's flow-file format (in-flight ones are skipped)."""
        out = []
        for start in range(0, len(ids), 200):
            chunk = ",".join(ids[start : start + 200])
            out.append(self._request("GET", "/flows/export", {"ids": chunk}).content)
        return b"".join(out)

    def list_flows(self, bodies: bool = False, reveal: bool = False) -> list[dict[str, Any]]:
        data = json.loads(self.list_text(bodies=bodies, reveal=reveal))
        if not isinstance(data, list):
            raise DaemonUnavailable(f"ccproxy daemon at {self.base_url}: /flows did not return a JSON array")
        return data

    def get_flow(self, flow_id: str, reveal: bool = False) -> dict[str, Any] | None:
        params = {"reveal": "1"} if reveal else None
        response = self._request("GET", f"/flows/{flow_id}", params)
        if response.status_code == 404:
            return None
        result: dict[str, Any] = response.json()
        return result

    def delete_flows(self, ids: list[str] | None = None) -> int | None:
        """Delete ``ids`` (all flows when None); the daemon's count when it reports one."""
        params = None if ids is None else {"ids": ",".join(ids)}
        response = self._request("DELETE", "/flows", params)
        try:
            body = response.json()
        except ValueError:
            return None
        for key in ("cleared", "deleted", "count"):
            if isinstance(body, dict) and isinstance(body.get(key), int):
                return int(body[key])
        return None


def join_pages(pages: list[str]) -> str:
    """JSON array texts → one array text, without parsing them."""
    if len(pages) == 1:
        return pages[0]
    inner = [p.strip()[1:-1].strip() for p in pages]
    return "[" + ",".join(i for i in inner if i) + "]"
