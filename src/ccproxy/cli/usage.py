"""`ccproxy usage`: token and cost totals from flows.db (read directly: the daemon may be down)."""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from decimal import Decimal

import click
from rich.console import Console
from rich.table import Table

from ccproxy.cli.common import fail, get_config
from ccproxy.flows.jqchain import JqFilterError
from ccproxy.flows.query import FlowQuery
from ccproxy.usage.prices import Pricer
from ccproxy.usage.report import GROUPS, GroupBy, Totals, UsageReport, build_report, when

# The store's offline reader must never evict.
_UNBOUNDED = 2**62


def parse_when(option: str, value: str | None, now: float) -> float | None:
    try:
        return when(value, now)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint=option) from e


def _cost(t: Totals) -> str:
    if t.requests and t.unpriced == t.requests:
        return "price unknown"
    # cents hide what a few requests cost: six decimals below a cent
    text = f"${t.cost:,.4f}" if t.cost >= Decimal("0.01") else f"${t.cost:.6f}"
    return f"{text} + {t.unpriced} unpriced" if t.unpriced else text


def render_table(report: UsageReport, console: Console) -> None:
    table = Table(title=f"ccproxy usage by {report.by}", show_footer=True)
    total = report.total
    table.add_column(report.by, footer="total")
    for name, attr in (
        ("requests", "requests"),
        ("input", "input_tokens"),
        ("output", "output_tokens"),
        ("cache read", "cache_read_tokens"),
        ("cache write", "cache_write_tokens"),
    ):
        table.add_column(name, justify="right", footer=f"{getattr(total, attr):,}")
    table.add_column("cost (USD)", justify="right", footer=_cost(total))
    for g in report.groups:
        table.add_row(
            g.key,
            f"{g.requests:,}",
            f"{g.input_tokens:,}",
            f"{g.output_tokens:,}",
            f"{g.cache_read_tokens:,}",
            f"{g.cache_write_tokens:,}",
            _cost(g),
        )
    console.print(table)
    if total.unpriced_models:
        console.print(
            f"price unknown for: {', '.join(sorted(total.unpriced_models))} "
            "(add them under usage.prices in ccproxy.yaml)"
        )


def render_json(report: UsageReport) -> str:
    return json.dumps(
        {
            "by": report.by,
            "groups": [g.as_json(report.by) for g in report.groups],
            "total": report.total.as_json("key"),
        },
        indent=2,
    )


def render_csv(report: UsageReport) -> str:
    out = io.StringIO()
    fields = [report.by, "requests", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*fields, "cost_usd", "unpriced_requests"])
    for t in [*report.groups, report.total]:
        row = t.as_json(report.by)
        cost = "" if row["cost_usd"] is None else str(t.cost)
        writer.writerow([t.key, *(row[f] for f in fields[1:]), cost, t.unpriced])
    return out.getvalue()


@click.command("usage")
@click.option("--by", "by", type=click.Choice(GROUPS), default="model", show_default=True)
@click.option("--since", help="7d, 12h, 30m, or a date (2026-11-30).")
@click.option("--until", help="the same forms; flows that started before it.")
@click.option("--jq", "jq_filters", multiple=True, metavar="FILTER", help="jq filter over the flows (array → array).")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV instead of a table.")
@click.pass_context
def usage(
    ctx: click.Context,
    by: GroupBy,
    since: str | None,
    until: str | None,
    jq_filters: tuple[str, ...],
    as_json: bool,
    as_csv: bool,
) -> None:
    """Token and cost totals from the recorded flows (streamed usage included)."""
    if as_json and as_csv:
        fail("--json and --csv exclude each other", 2)
    config = get_config(ctx)
    now = time.time()
    query = FlowQuery(since=parse_when("--since", since, now), until=parse_when("--until", until, now))
    section = config.ccproxy
    if not section.flows.persist:
        fail("usage reads flows.db, and flows.persist is false (no store survives the daemon)")
    path = config.state_dir / "flows.db"
    if not path.exists():
        fail(f"no flow store at {path} (nothing recorded yet)")
    from ccproxy.flows.store import FlowStore  # mitmproxy and sqlite: only on this path

    store = FlowStore(path, max_flows=_UNBOUNDED, max_bytes=_UNBOUNDED, readonly=True)
    try:
        store.open()
        rows = store.rows(query)
    except Exception as e:  # sqlite3.Error and friends: one line
        fail(f"cannot read the flow store {path}: {e}")
    finally:
        store.close()
    filters = [*section.flows.default_jq_filters, *jq_filters]
    try:
        report = build_report(rows, by, Pricer(section.usage.prices), filters)
    except JqFilterError as e:
        fail(str(e), 2)
    if as_json:
        click.echo(render_json(report))
    elif as_csv:
        sys.stdout.write(render_csv(report))
    else:
        render_table(report, Console())
