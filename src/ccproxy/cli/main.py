"""The `ccproxy` command.

Subcommands are imported when they are chosen (`LazyGroup`): `ccproxy flows list` must not
pay for the daemon's imports (mitmproxy, fastmcp, the hook pipeline), nor `--version` for any.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from ccproxy import __version__

# name -> "module:attribute" of the click command (`--help` lists them sorted, as click does).
COMMANDS = {
    "init": "ccproxy.cli.daemon_cmds:init",
    "start": "ccproxy.cli.daemon_cmds:start",
    "status": "ccproxy.cli.daemon_cmds:status",
    "logs": "ccproxy.cli.daemon_cmds:logs",
    "flows": "ccproxy.cli.flows:flows",
    "run": "ccproxy.cli.run:run",
    "namespace": "ccproxy.cli.namespace:namespace",
    "shapes": "ccproxy.cli.shapes:shapes",
    "mcp": "ccproxy.cli.mcp:mcp",
    "usage": "ccproxy.cli.usage:usage",
    "replay": "ccproxy.cli.replay:replay",
    "ui": "ccproxy.cli.viewer:ui",
}


class LazyGroup(click.Group):
    """A group whose subcommands live in modules imported on first use."""

    def __init__(self, *args: object, lazy: dict[str, str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.lazy, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
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


def main() -> None:
    try:
        cli(prog_name="ccproxy")
    except Exception as e:
        # Users get one line; CCPROXY_DEBUG=1 shows the traceback for bug reports.
        if os.environ.get("CCPROXY_DEBUG"):
            raise
        click.echo(f"ccproxy: error: {type(e).__name__}: {e}", err=True)
        sys.exit(1)
