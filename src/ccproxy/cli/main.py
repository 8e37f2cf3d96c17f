"""The `ccproxy` command."""

from __future__ import annotations

import os
import sys

import click

from ccproxy import __version__
from ccproxy.cli.daemon_cmds import init, logs, start, status
from ccproxy.cli.flows import flows
from ccproxy.cli.mcp import mcp
from ccproxy.cli.namespace import namespace
from ccproxy.cli.replay import replay
from ccproxy.cli.run import run
from ccproxy.cli.shapes import shapes
from ccproxy.cli.usage import usage
from ccproxy.cli.viewer import ui


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=True),
    envvar=None,
    help="Config file or directory (default: $CCPROXY_CONFIG_DIR, then $XDG_CONFIG_HOME/ccproxy).",
)
@click.version_option(__version__, prog_name="ccproxy")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """ccproxy: capture, steer and translate LLM client traffic."""
    ctx.ensure_object(dict)["config_path"] = config_path


for command in (init, start, status, logs, flows, run, namespace, shapes, mcp, usage, replay, ui):
    cli.add_command(command)


def main() -> None:
    try:
        cli(prog_name="ccproxy")
    except Exception as e:
        # Users get one line; CCPROXY_DEBUG=1 shows the traceback for bug reports.
        if os.environ.get("CCPROXY_DEBUG"):
            raise
        click.echo(f"ccproxy: error: {type(e).__name__}: {e}", err=True)
        sys.exit(1)
