"""`ccproxy init`, `start`, `status`, `logs`."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path

import click

from ccproxy.access.token import read_token
from ccproxy.cli.common import control_headers, daemon_url, fail, get_config
from ccproxy.config import discover_config_path
from ccproxy.config.template import write_template

# `ccproxy status` exit code: one bit per component that is down.
DOWN_PROXY, DOWN_INSPECT, DOWN_MCP = 1, 2, 4


@click.command()
@click.option("--force", is_flag=True, help="Overwrite an existing config.")
@click.pass_context
def init(ctx: click.Context, force: bool) -> None:
    """Write a commented config template."""
    path = discover_config_path(ctx.obj.get("config_path"))
    try:
        write_template(path, force=force)
    except FileExistsError:
        fail(f"{path} already exists (use --force to overwrite)")
    except OSError as e:
        fail(f"cannot write {path}: {e.strerror}")
    click.echo(f"Wrote {path}")


@click.command()
@click.pass_context
def start(ctx: click.Context) -> None:
    """Run the daemon in the foreground (Ctrl-C stops it)."""
    from ccproxy.daemon.logs import LogFileError, setup_logging
    from ccproxy.daemon.master import Daemon, StartupError, event_loop_factory

    config = get_config(ctx, create=True)
    code = 0
    try:
        setup_logging(config)
        daemon = Daemon(config)
        asyncio.run(daemon.run(), loop_factory=event_loop_factory())
    except (StartupError, LogFileError) as e:
        click.echo(f"ccproxy: error: {e}", err=True)
        code = 1
    except OSError as e:
        click.echo(f"ccproxy: error: {e.filename or ''} {e.strerror or e}".strip(), err=True)
        code = 1
    # Everything is stopped and flushed. Skip interpreter finalisation: mitmproxy_rs's
    # WireGuard servers (Rust threads) can crash (SIGSEGV) while Python tears modules down.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def probe(config_url: str, headers: dict[str, str] | None = None) -> dict | None:
    import httpx  # httpx and rich are imported where used: `ccproxy start` (this module) needs neither

    try:
        r = httpx.get(config_url + "/health", timeout=2.0, trust_env=False, headers=headers)
        return r.json() if r.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--proxy", "want_proxy", is_flag=True, help="Check the reverse-proxy listener.")
@click.option("--inspect", "want_inspect", is_flag=True, help="Check the WireGuard jail listener.")
@click.option("--mcp", "want_mcp", is_flag=True, help="Check the MCP server.")
@click.option("--mermaid", is_flag=True, help="Print the hook pipeline as mermaid stateDiagram-v2 and exit.")
@click.pass_context
def status(
    ctx: click.Context, as_json: bool, want_proxy: bool, want_inspect: bool, want_mcp: bool, mermaid: bool
) -> None:
    """Show what is running and the hook pipeline.

    Exit code: bitmask of what is down (1 proxy, 2 inspect, 4 MCP)."""
    from ccproxy.pipeline import build_pipelines
    from ccproxy.pipeline.render import describe, print_pipelines

    config = get_config(ctx)
    try:
        pipelines = build_pipelines(config.ccproxy.hooks)
    except ValueError as e:
        fail(str(e))
    from rich.console import Console
    from rich.table import Table

    if mermaid:
        print_pipelines(Console(), pipelines, mermaid=True)
        return
    url = daemon_url(config)
    health = probe(url, control_headers(config))
    listeners = (health or {}).get("listeners", {})
    up = {"proxy": health is not None, "inspect": "wireguard" in listeners, "mcp": "mcp" in listeners}
    selected = [n for n, w in (("proxy", want_proxy), ("inspect", want_inspect), ("mcp", want_mcp)) if w]
    if not selected:
        selected = ["proxy"]
    code = 0
    for name, bit in (("proxy", DOWN_PROXY), ("inspect", DOWN_INSPECT), ("mcp", DOWN_MCP)):
        if name in selected and not up[name]:
            code |= bit
    report = {
        "url": url,
        "running": health is not None,
        "components": up,
        "health": health,
        "pipeline": describe(pipelines),
    }
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        console = Console()
        table = Table(title="ccproxy status")
        table.add_column("component")
        table.add_column("state")
        table.add_column("address")
        for name in ("proxy", "inspect", "mcp"):
            key = {"proxy": "proxy", "inspect": "wireguard", "mcp": "mcp"}[name]
            state = "[green]up[/]" if up[name] else "[red]down[/]"
            table.add_row(name, state, listeners.get(key, url if name == "proxy" else "-"))
        console.print(table)
        if health:
            console.print(f"flows: {health.get('flows')}  uptime: {health.get('uptime_s')}s")
        web_file = config.state_dir / "web-inspector.url"
        if "web" in listeners and web_file.exists():
            console.print(f"inspector web UI: {web_file.read_text().strip()}")
        token = read_token(config.state_dir) if health else None
        if token:
            from ccproxy.addons.viewer import viewer_url

            console.print(f"conversation viewer: {viewer_url(url, token)}", soft_wrap=True)
        print_pipelines(console, pipelines)
    ctx.exit(code)


def tail_lines(path: Path, n: int) -> list[str]:
    with path.open("rb") as fh:
        fh.seek(0, 2)
        end = fh.tell()
        block, data = 8192, b""
        while end > 0 and data.count(b"\n") <= n:
            step = min(block, end)
            end -= step
            fh.seek(end)
            data = fh.read(step) + data
    return [line.decode("utf-8", "replace") for line in data.splitlines()[-n:]] if n else []


@click.command()
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.option("-n", "--lines", default=50, show_default=True, help="How many lines to show (0 or more).")
@click.pass_context
def logs(ctx: click.Context, follow: bool, lines: int) -> None:
    """Show the daemon's log file."""
    from ccproxy.daemon.logs import log_path

    if lines < 0:
        fail(f"-n/--lines: must be 0 or more (got {lines})", 2)
    path = log_path(get_config(ctx))
    if not path.exists():
        fail(f"no log file yet at {path} (has `ccproxy start` run?)")
    for text in tail_lines(path, lines):
        click.echo(text)
    if not follow:
        return
    with path.open("rb") as fh:
        fh.seek(0, 2)
        inode = path.stat().st_ino
        try:
            while True:
                raw = fh.readline()
                if raw:
                    click.echo(raw.decode("utf-8", "replace").rstrip("\n"))
                    continue
                time.sleep(0.2)
                # Rotation swapped the file: follow the new one.
                if path.exists() and path.stat().st_ino != inode:
                    fh.close()
                    fh = path.open("rb")
                    inode = path.stat().st_ino
        except KeyboardInterrupt:
            return
