"""Shared CLI plumbing: config loading, one-line errors, the daemon's HTTP client."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from ccproxy.access.token import TOKEN_HEADER, read_token

if TYPE_CHECKING:  # both are heavy: imported where a command needs them
    import httpx

    from ccproxy.config import Config
    from ccproxy.config.cli_view import CliView


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"ccproxy: error: {message}", err=True)
    sys.exit(code)


def get_config(ctx: click.Context, *, create: bool = False) -> Config:
    obj = ctx.ensure_object(dict)
    if "config" not in obj:
        from ccproxy.config import ConfigError, load_config

        try:
            obj["config"] = load_config(obj.get("config_path"), create=create)
        except ConfigError as e:
            fail(str(e))
    config: Config = obj["config"]
    add_user_hook_dir(config)
    return config


def get_cli_view(ctx: click.Context) -> CliView:
    """What the client commands (`flows ...`, `run -- CMD`) need of the config, validated like
    `start` validates it, through the validated-config cache (config.cli_cache)."""
    obj = ctx.find_root().ensure_object(dict)
    if "cli_view" not in obj:
        from ccproxy.config.cli_view import CliView
        from ccproxy.config.loader import ConfigError

        try:
            if "config" in obj:
                obj["cli_view"] = CliView.from_config(obj["config"])
            else:
                from ccproxy.config.cli_cache import load_cli_view

                obj["cli_view"] = load_cli_view(obj.get("config_path"))
        except ConfigError as e:
            fail(str(e))
    view: CliView = obj["cli_view"]
    return view


def add_user_hook_dir(config: Config) -> None:
    """`<config dir>/hooks/` holds the user's hook modules: importable without PYTHONPATH,
    for the daemon and for `ccproxy status` alike."""
    hooks_dir = str(config.config_dir / "hooks")
    if Path(hooks_dir).is_dir() and hooks_dir not in sys.path:
        sys.path.insert(0, hooks_dir)


def daemon_url(config: Config | CliView) -> str:
    from ccproxy.config.cli_view import CliView

    view = config if isinstance(config, CliView) else CliView.from_config(config)
    host = view.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{view.port}"


def control_headers(config: Config | CliView) -> dict[str, str]:
    """The local token for control requests (needed to reveal or delete, and for everything
    on a non-loopback bind); empty when this user cannot read it."""
    token = read_token(config.state_dir)
    return {TOKEN_HEADER: token} if token else {}


def daemon_request(config: Config, method: str, path: str, **kw: Any) -> httpx.Response:
    """Call a control endpoint; a daemon that is not running is a one-line error."""
    import httpx

    url = daemon_url(config) + path
    headers = {**control_headers(config), **kw.pop("headers", {})}
    try:
        return httpx.request(method, url, timeout=kw.pop("timeout", 30.0), trust_env=False, headers=headers, **kw)
    except httpx.ConnectError:
        fail(f"ccproxy is not running at {daemon_url(config)} (start it with `ccproxy start`)")
    except httpx.HTTPError as e:
        fail(f"request to {url} failed: {e}")
