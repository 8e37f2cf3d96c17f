"""`ccproxy shapes save|list|audit`: the request envelopes the `shape` hook replays."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ccproxy.cli.common import fail, get_config
from ccproxy.cli.flows import handle_errors, jq_option
from ccproxy.flows.client import FlowClient, settings_from_config
from ccproxy.flows.service import resolve_flow_set


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "-"


@click.group("shapes")
def shapes() -> None:
    """Captured request envelopes (.mflow) that the `shape` hook replays (docs/shapes.md)."""


@shapes.command("save")
@click.argument("provider")
@jq_option
@click.option(
    "--mflow",
    "request_only",
    is_flag=True,
    help="Replace the file with one request-only flow (the override) instead of appending.",
)
@click.pass_context
@handle_errors
def save_cmd(ctx: click.Context, provider: str, jq_filters: tuple[str, ...], request_only: bool) -> None:
    """Make the newest captured request to PROVIDER its shape (secrets removed)."""
    from ccproxy.shapes.capture import CaptureError, pick_capture, save_shape

    config = get_config(ctx)
    settings = settings_from_config(config)
    with FlowClient(settings.base_url, token=settings.token) as client:
        flow_set = resolve_flow_set(client, [*settings.default_jq_filters, *jq_filters], bodies=True)
    try:
        chosen = pick_capture(flow_set, provider, config)
    except CaptureError as e:
        fail(str(e))
    path = save_shape(config, provider, chosen, request_only=request_only)
    req = chosen["request"]
    click.echo(
        f"Saved flow {str(chosen.get('id', ''))[:8]} ({req.get('method')} {req.get('path')}) as the shape "
        f"of {provider!r}: {path}"
    )


@shapes.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool) -> None:
    """The shape in force for each provider (local, else packaged)."""
    from ccproxy.shapes.merge import client_family
    from ccproxy.shapes.store import ShapeFileError, ShapeLibrary

    config = get_config(ctx)
    library = ShapeLibrary(config)
    names = sorted({*config.ccproxy.providers, *(p.stem for p in library.shapes_dir.glob("*.mflow"))})
    rows = []
    for name in names:
        row: dict[str, object] = {"provider": name, "source": None, "path": None}
        try:
            found = library.find(name)
        except ShapeFileError as e:
            row["error"] = str(e)
            rows.append(row)
            continue
        if found is not None:
            req = found.request
            row.update(
                source=found.source,
                path=str(found.path),
                flows=found.flows_in_file,
                captured_at=found.captured_at,
                method=req.method,
                request_path=req.path.split("?")[0],
                client=client_family(req.headers.get("user-agent")),
                headers=len(req.headers),
            )
        rows.append(row)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table("provider", "shape", "flows", "captured", "request", "client")
    for row in rows:
        if row.get("error"):
            table.add_row(str(row["provider"]), f"[red]unreadable[/red]: {row['error']}", "", "", "", "")
        elif row["source"] is None:
            table.add_row(str(row["provider"]), "none", "", "", "", "")
        else:
            table.add_row(
                str(row["provider"]),
                f"{row['source']}: {Path(str(row['path'])).name}",
                str(row["flows"]),
                _when(row["captured_at"]),  # type: ignore[arg-type]
                f"{row['method']} {row['request_path']}",
                str(row["client"] or "-"),
            )
    Console(highlight=False).print(table)
    click.echo(f"shapes dir: {library.shapes_dir}")


@shapes.command("audit")
@click.option(
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Audit this folder only (default: the local shapes dir and the packaged shapes).",
)
@click.option("--max-age-days", type=float, default=None, help="A shape older than this is a problem.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def audit_cmd(ctx: click.Context, directory: Path | None, max_age_days: float | None, as_json: bool) -> None:
    """Check every shape: readable, provider known, no secret left, content fields present, age.
    Exits 1 when any shape has a problem."""
    from ccproxy.shapes.audit import audit_directory
    from ccproxy.shapes.store import PACKAGED_DIR

    config = get_config(ctx)
    if directory is not None and not directory.is_dir():
        fail(f"--directory {directory}: not a directory")
    folders = [directory] if directory is not None else [config.shapes_dir, PACKAGED_DIR]
    results = [r for d in folders if d.is_dir() for r in audit_directory(d, config, max_age_days=max_age_days)]
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], indent=2))
    elif not results:
        click.echo(f"No shapes in {', '.join(str(d) for d in folders)}.")
    for r in results if not as_json else []:
        status = "ok  " if r.ok else "FAIL"
        age = "" if r.age_days is None else f", captured {r.age_days:.0f} days ago"
        click.echo(f"{status} {r.path} ({r.provider}, {r.flows} flow(s){age})")
        for problem in r.problems:
            click.echo(f"     problem: {problem}")
        for note in r.notes:
            click.echo(f"     note: {note}")
    if any(not r.ok for r in results):
        raise SystemExit(1)
