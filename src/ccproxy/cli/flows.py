"""`ccproxy flows ...`: list, dump, diff, compare, export, clear and repl over a jq-filtered flow set."""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import click

from ccproxy.cli.common import fail, get_cli_view, get_config
from ccproxy.flows.client import DaemonUnavailable, FlowsSettings, settings_from_view
from ccproxy.flows.jqchain import JqFilterError
from ccproxy.flows.offline import FlowSource
from ccproxy.flows.render import ROW_PROJECTION, print_comparisons, render_conversations, render_flows

# compare, conversations and diff are imported by the commands that use them: `flows list`
# starts faster without them (bench/cli_startup.py).
from ccproxy.flows.service import resolve_flow_set


def _settings(ctx: click.Context) -> FlowsSettings:
    settings = ctx.find_object(FlowsSettings)
    if settings is None:
        raise click.ClickException("flows settings missing")  # the group always sets them
    return settings


def _terminal_width() -> int:
    return shutil.get_terminal_size((80, 24)).columns


def jq_option[F: Callable[..., Any]](func: F) -> F:
    return click.option(
        "--jq",
        "jq_filters",
        multiple=True,
        metavar="FILTER",
        help="jq filter array → array; repeatable, chained with |, after flows.default_jq_filters.",
    )(func)


def handle_errors[F: Callable[..., Any]](func: F) -> F:
    """Turn the library's errors into one line on stderr and the documented exit codes."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except JqFilterError as e:
            fail(str(e), 2)
        except DaemonUnavailable as e:
            fail(str(e), 1)

    return wrapper  # type: ignore[return-value]


def _flow_set(
    ctx: click.Context,
    jq_filters: tuple[str, ...],
    bodies: bool = False,
    reveal: bool = False,
    projection: str | None = None,
    rows: bool = False,
) -> list[dict[str, Any]]:
    settings = _settings(ctx)
    filters = [*settings.default_jq_filters, *jq_filters]
    with FlowSource(settings.base_url, settings.db_path, token=settings.token) as client:
        return resolve_flow_set(client, filters, bodies=bodies, reveal=reveal, projection=projection, rows=rows)


@click.group("flows")
@click.option("--port", type=int, default=None, help="Daemon port (default: config, $CCPROXY_PORT, 4000).")
@click.option("--host", default=None, help="Daemon host (default: config, $CCPROXY_HOST, 127.0.0.1).")
@click.pass_context
def flows(ctx: click.Context, port: int | None, host: str | None) -> None:
    """Inspect captured flows. Every command works on the jq-filtered flow set."""
    # Tests and embedders may hand over ready settings; otherwise read the config the root
    # command discovered (--config, $CCPROXY_CONFIG_DIR, XDG).
    settings = ctx.obj if isinstance(ctx.obj, FlowsSettings) else None
    if settings is None:
        try:
            settings = settings_from_view(get_cli_view(ctx), port=port, host=host)
        except ValueError as e:
            fail(str(e))
    elif port is not None or host is not None:
        settings = replace(settings, port=settings.port if port is None else port, host=host or settings.host)
    ctx.obj = settings


@flows.command("list")
@jq_option
@click.option("--json", "as_json", is_flag=True, help="Print the filtered flow array as JSON.")
@click.option("--group", is_flag=True, help="One row per conversation (turns, tokens, duration).")
@click.option("--bodies", is_flag=True, help="Include bodies (for --json, and for filters on bodies).")
@click.pass_context
@handle_errors
def list_cmd(ctx: click.Context, jq_filters: tuple[str, ...], as_json: bool, group: bool, bodies: bool) -> None:
    """List the flow set as a table (or JSON)."""
    # Grouping needs request bodies (session metadata, message history) and response usage.
    table_only = not (as_json or group or bodies)
    flows_ = _flow_set(
        ctx, jq_filters, bodies=bodies or group, projection=ROW_PROJECTION if table_only else None, rows=table_only
    )
    if group:
        from ccproxy.flows.conversations import group_conversations

        conversations = group_conversations(flows_)
        if as_json:
            click.echo(json.dumps([c.to_dict() for c in conversations], indent=2))
        elif not conversations:
            click.echo("No flows in the set.")
        else:
            click.echo(render_conversations(conversations, _terminal_width()))
        return
    if as_json:
        click.echo(json.dumps(flows_, indent=2))
    elif not flows_:
        click.echo("No flows in the set.")
    else:
        click.echo(render_flows(flows_, _terminal_width()))


@flows.command("dump")
@jq_option
@click.option("--reveal-secrets", is_flag=True, help="Keep credential headers instead of <redacted>.")
@click.pass_context
@handle_errors
def dump_cmd(ctx: click.Context, jq_filters: tuple[str, ...], reveal_secrets: bool) -> None:
    """Write the flow set as a multi-page HAR 1.2 document to stdout."""
    from ccproxy.flows.har import flows_to_har  # pulls in mitmproxy; only dump needs it

    flows_ = _flow_set(ctx, jq_filters, bodies=True, reveal=reveal_secrets)
    click.echo(json.dumps(flows_to_har(flows_, reveal_secrets=reveal_secrets), indent=2, ensure_ascii=False))


@flows.command("diff")
@jq_option
@click.pass_context
@handle_errors
def diff_cmd(ctx: click.Context, jq_filters: tuple[str, ...]) -> None:
    """Sliding-window unified diff of request bodies: f0→f1, f1→f2, ..."""
    from ccproxy.flows.diff import NotEnoughFlows, render_diffs

    flows_ = _flow_set(ctx, jq_filters, bodies=True)
    try:
        text = render_diffs(flows_)
    except NotEnoughFlows as e:
        fail(str(e), 1)
    from rich.console import Console

    console = Console(width=_terminal_width(), highlight=False)
    if console.is_terminal:
        from ccproxy.flows.render import diff_text

        console.print(diff_text(text.splitlines()))
    else:
        click.echo(text)


@flows.command("compare")
@jq_option
@click.pass_context
@handle_errors
def compare_cmd(ctx: click.Context, jq_filters: tuple[str, ...]) -> None:
    """Per flow: the client's request against the forwarded one (URL and body)."""
    from rich.console import Console

    from ccproxy.flows.compare import compare_flows

    flows_ = _flow_set(ctx, jq_filters, bodies=True)
    if not flows_:
        click.echo("No flows in the set.")
        return
    print_comparisons(Console(width=_terminal_width(), highlight=False), compare_flows(flows_))


@flows.command("export")
@jq_option
@click.option(
    "-o", "--output", "output", required=True, type=click.Path(dir_okay=False, writable=True), help="FILE.mitm"
)
@click.pass_context
@handle_errors
def export_cmd(ctx: click.Context, jq_filters: tuple[str, ...], output: str) -> None:
    """Write the flow set in mitmproxy's flow format (`mitmweb -r FILE`, `mitmdump -r FILE`)."""
    settings = _settings(ctx)
    with FlowSource(settings.base_url, settings.db_path, token=settings.token) as client:
        ids = [
            str(f["id"]) for f in resolve_flow_set(client, [*settings.default_jq_filters, *jq_filters]) if f.get("id")
        ]
        data = client.export_records(ids) if ids else b""
    try:
        with open(output, "wb") as fh:
            fh.write(data)
    except OSError as e:
        fail(f"cannot write {output}: {e.strerror}")
    click.echo(f"Exported {len(ids)} flow(s) to {output}.", err=True)


@flows.command("view")
@jq_option
@click.option("--session", "session", default=None, metavar="ID", help="Only this session (key or unique prefix).")
@click.option("--html", "html_file", required=True, type=click.Path(dir_okay=False), help="FILE.html to write.")
@click.pass_context
@handle_errors
def view_cmd(ctx: click.Context, jq_filters: tuple[str, ...], session: str | None, html_file: str) -> None:
    """Write the flow set's conversations as one self-contained HTML file (secrets redacted)."""
    from ccproxy.viewer.export import ExportError, write_export

    # The prices of the usage report: the whole config (settings handed over by a test: none).
    config = get_config(ctx.find_root()) if isinstance(ctx.find_root().obj, dict) else None
    flows_ = _flow_set(ctx, jq_filters, bodies=True)
    try:
        count = write_export(flows_, html_file, session=session, config=config)
    except ExportError as e:
        fail(str(e))
    click.echo(f"Wrote {count} session(s) to {html_file}.", err=True)


@flows.command("clear")
@jq_option
@click.option("--all", "clear_all", is_flag=True, help="Clear every flow, ignoring all filters.")
@click.option("--offline", is_flag=True, help="Delete from flows.db directly (the daemon must not be running).")
@click.pass_context
@handle_errors
def clear_cmd(ctx: click.Context, jq_filters: tuple[str, ...], clear_all: bool, offline: bool) -> None:
    """Delete the flow set from the daemon (or, with --offline, from flows.db)."""
    settings = _settings(ctx)
    with FlowSource(settings.base_url, settings.db_path, token=settings.token, offline_writes=offline) as client:
        if clear_all:
            reported = client.delete_flows(None)
            if reported is None:  # a daemon that does not report a count
                click.echo("Cleared all flows.")
                return
            count = reported
        else:
            ids = [
                str(f["id"])
                for f in resolve_flow_set(client, [*settings.default_jq_filters, *jq_filters])
                if f.get("id")
            ]
            reported = client.delete_flows(ids) if ids else 0
            count = reported if reported is not None else len(ids)
    click.echo(f"Cleared {count} flow(s).")


@flows.command("repl")
@jq_option
@click.option("--history-file", type=click.Path(dir_okay=False), default=None, help="Readline history file.")
@click.pass_context
@handle_errors
def repl_cmd(ctx: click.Context, jq_filters: tuple[str, ...], history_file: str | None) -> None:
    """Interactive prompt over the flow set (:jq, :show, :diff, :compare, :dump, ...)."""
    from ccproxy.flows.repl import FlowRepl, default_history_file

    settings = _settings(ctx)
    with FlowSource(settings.base_url, settings.db_path, token=settings.token) as client:
        repl = FlowRepl(
            client,
            base_filters=[*settings.default_jq_filters, *jq_filters],
            history_file=history_file or default_history_file(),
        )
        repl.refresh()
        repl.run()
