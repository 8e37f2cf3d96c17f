"""`python -m ccproxy.jail`: the jail commands without the full CLI (`run -- CMD`, `namespace ...`)."""

from __future__ import annotations

import sys

import click

from ccproxy.cli.namespace import _config, namespace


@click.group()
@click.option("--config", "config_path", type=click.Path(), help="Config file or directory.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    ctx.ensure_object(dict)["config_path"] = config_path


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--timing", is_flag=True, help="Print the jail start-up time to stderr.")
@click.argument("cmd", nargs=-1, type=click.UNPROCESSED, required=True)
@click.pass_context
def run(ctx: click.Context, timing: bool, cmd: tuple[str, ...]) -> None:
    """Same as `ccproxy run --inspect -- CMD`."""
    from ccproxy.jail.inspect import run_inspect

    sys.exit(run_inspect(list(cmd), _config(ctx), timing=timing))


main.add_command(namespace)

if __name__ == "__main__":
    main()
