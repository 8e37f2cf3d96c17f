"""`ccproxy namespace status|doctor|wireguard-config`."""

from __future__ import annotations

import json
import sys

import click

from ccproxy.cli.common import get_config as _config


@click.group()
def namespace() -> None:
    """The WireGuard namespace jail behind `ccproxy run --inspect`."""


@namespace.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(as_json: bool) -> None:
    """Tools, kernel WireGuard or userspace fallback, /dev/net/tun, user namespaces, AppArmor, WSL."""
    from ccproxy.jail.system import collect_status

    st = collect_status()
    if as_json:
        click.echo(json.dumps(st.to_json(), indent=2))
    else:
        for name, path in st.tools.items():
            click.echo(f"{name:12} {path or 'MISSING'}")
        click.echo(f"{'wireguard':12} {st.wireguard}")
        click.echo(f"{'/dev/net/tun':12} {'accessible' if st.tun else 'not accessible'}")
        click.echo(f"{'userns':12} {'allowed' if st.userns else 'blocked: ' + st.userns_error}")
        aa = st.apparmor_restrict_unprivileged_userns
        click.echo(f"{'apparmor':12} {'n/a' if aa is None else 'restrict_unprivileged_userns=' + aa}")
        click.echo(f"{'wsl':12} {'yes' if st.wsl else 'no'}")
        for p in st.problems:
            click.echo(f"problem: {p}", err=True)
    sys.exit(0 if st.ok else 1)


@namespace.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--probe-host", default="api.anthropic.com", show_default=True, help="Host the probe resolves.")
@click.pass_context
def doctor(ctx: click.Context, as_json: bool, probe_host: str) -> None:
    """Bring up a throwaway jail; probe DNS, the tunnel, TLS interception and the kill switch."""
    from ccproxy.jail.doctor import render, run_doctor
    from ccproxy.jail.inspect import spec_from_config

    config = _config(ctx)
    checks = run_doctor(spec_from_config(config), probe_host, config.ccproxy.port)
    click.echo(render(checks, as_json))
    sys.exit(0 if all(c.ok for c in checks) else 1)


@namespace.command("wireguard-config")
@click.option("--slot", default=0, show_default=True, help="Jail slot (one peer per daemon WireGuard listener).")
@click.pass_context
def wireguard_config(ctx: click.Context, slot: int) -> None:
    """Print the WireGuard client config for the daemon (it contains a private key)."""
    from ccproxy.jail.keys import load_or_create_keys
    from ccproxy.jail.slots import jail_slots
    from ccproxy.jail.wgconf import client_config

    config = _config(ctx)
    slots = jail_slots(config)
    if not 0 <= slot < slots:
        click.echo(f"ccproxy: error: --slot: {slot} is not between 0 and {slots - 1}", err=True)
        sys.exit(1)
    keys = load_or_create_keys(config.state_dir, slot)
    port = config.ccproxy.inspector.wireguard_port + slot
    click.echo("warning: this config contains the WireGuard client's private key; keep it secret", err=True)
    click.echo(client_config(keys, config.ccproxy.host, port), nl=False)
