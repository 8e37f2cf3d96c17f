"""`ccproxy ui`: open the conversation viewer of the running daemon."""

from __future__ import annotations

import webbrowser

import click

from ccproxy.access.token import read_token
from ccproxy.cli.common import control_headers, daemon_url, fail, get_config
from ccproxy.cli.daemon_cmds import probe


@click.command("ui")
@click.option("--print", "print_only", is_flag=True, help="Print the URL (with its key) instead of opening it.")
@click.pass_context
def ui(ctx: click.Context, print_only: bool) -> None:
    """Open the conversation viewer (/ui/ on the proxy listener) in a browser."""
    from ccproxy.addons.viewer import viewer_url

    config = get_config(ctx)
    base = daemon_url(config)
    if probe(base, control_headers(config)) is None:
        fail(f"ccproxy is not running at {base} (start it with `ccproxy start`)")
    token = read_token(config.state_dir)
    if token is None:
        fail(f"cannot read the daemon's token in {config.state_dir} (is the daemon another user's?)")
    url = viewer_url(base, token)
    if not print_only:
        webbrowser.open(url)
    click.echo(url)
