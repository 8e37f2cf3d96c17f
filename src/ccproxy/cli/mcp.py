"""`ccproxy mcp config`: how to register the daemon's MCP server in a client."""

from __future__ import annotations

import click

from ccproxy.cli.common import fail, get_config
from ccproxy.mcp.clientconfig import CLIENTS, snippet


@click.group()
def mcp() -> None:
    """The in-daemon MCP server (mcp.host:mcp.port, and /mcp on the proxy port)."""


@mcp.command("config")
@click.option(
    "--client",
    type=click.Choice(CLIENTS),
    default="claude",
    show_default=True,
    help="Print the command or config snippet for this client (json: a generic mcpServers entry).",
)
@click.pass_context
def config_cmd(ctx: click.Context, client: str) -> None:
    """Print the exact command or snippet that registers ccproxy's MCP server in a client."""
    from ccproxy.mcp.token import resolve_token

    section = get_config(ctx).ccproxy.mcp
    if not section.enabled:
        fail("the MCP server is off (mcp.enabled: false in ccproxy.yaml)")
    try:
        token = resolve_token(section)
    except ValueError as e:
        fail(str(e))
    if token and client != "codex":
        click.echo("warning: this snippet contains the MCP bearer token (mcp.auth_token); keep it secret", err=True)
    click.echo(snippet(client, section, token))  # type: ignore[arg-type]
