"""`ccproxy run --inspect -- CMD` (minimal: the jail path only; the env-var path belongs to the run owner)."""

from __future__ import annotations

import sys

import click

from ccproxy.cli.common import fail, get_config


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--inspect", is_flag=True, help="Run CMD in the WireGuard namespace jail (transparent capture).")
@click.argument("cmd", nargs=-1, type=click.UNPROCESSED, required=True)
@click.pass_context
def run(ctx: click.Context, inspect: bool, cmd: tuple[str, ...]) -> None:
    """Run CMD with its LLM traffic going through ccproxy."""
    if not inspect:
        fail("ccproxy run without --inspect is not available in this build; use --inspect")
    from ccproxy.jail.inspect import run_inspect

    sys.exit(run_inspect(list(cmd), get_config(ctx)))
