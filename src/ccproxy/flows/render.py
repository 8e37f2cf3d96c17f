"""Terminal tables for flow sets.

Rich's Table measures and wraps every cell, which takes seconds for thousands of rows;
this renderer draws the same heavy-head box with one line per row, truncating cells with
an ellipsis so the table fits the terminal width.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len, set_cell_size

# What flow_row reads (re-exported: the CLI and the benches take it from here).
from ccproxy.flows.rowview import ROW_PROJECTION as ROW_PROJECTION
from ccproxy.flows.rowview import table_row

if TYPE_CHECKING:  # rich's console and the flow models are for the diff/compare views only
    from rich.console import Console
    from rich.text import Text

    from ccproxy.flows.compare import FlowComparison
    from ccproxy.flows.conversations import Conversation

ELLIPSIS = "…"
FLOW_HEADERS = ("ID", "Method", "Code", "Host", "Path", "UA", "Time")
# Columns that give up width first when the table is too wide, in order of preference.
FLOW_FLEX = ("UA", "Path", "Host")


def _width(text: str) -> int:
    return len(text) if text.isascii() else cell_len(text)


def _fit(text: str, width: int) -> str:
    """Pad or truncate ``text`` to exactly ``width`` cells."""
    if text.isascii():  # one cell per character: the common case, kept cheap for 10k-row tables
        if len(text) <= width:
            return text.ljust(width)
        return text[: width - 1] + ELLIPSIS if width > 1 else ELLIPSIS[:width]
    w = cell_len(text)
    if w <= width:
        return text + " " * (width - w)
    if width <= 1:
        return ELLIPSIS[:width]
    return set_cell_size(text, width - 1) + ELLIPSIS


def _column_width(column: Sequence[str]) -> int:
    # One isascii() over the joined column: the common all-ASCII case measures by len().
    return max(map(len, column)) if "".join(column).isascii() else max(map(_width, column))


def _fit_column(column: Sequence[str], width: int) -> list[str]:
    """Every cell of a column fitted to ``width`` (as `_fit` does, cell by cell)."""
    if "".join(column).isascii() and max(map(len, column), default=0) <= width:
        return [c.ljust(width) for c in column]
    return [_fit(c, width) for c in column]


def _column_widths(
    headers: Sequence[str], rows: Sequence[Sequence[str]], max_width: int, flex: Sequence[str]
) -> list[int]:
    widths = [_width(h) for h in headers]
    if rows:
        columns = zip(*rows, strict=True)
        widths = [max(w, _column_width(column)) for w, column in zip(widths, columns, strict=True)]
    # Each column costs its content plus "│ " and " ", and the row ends with "│".
    excess = sum(widths) + 3 * len(widths) + 1 - max_width
    if excess <= 0:
        return widths
    # Flexible columns may shrink to a few cells; the others keep up to 8 (an id fits).
    minimum = [min(w, 4) if h in flex else min(w, max(_width(h), 8)) for h, w in zip(headers, widths, strict=True)]
    flexible = [headers.index(name) for name in flex if name in headers]
    rest = [i for i in range(len(headers)) if i not in flexible]
    # Lower the widest flexible column one cell at a time (a falling water level), so
    # long columns shrink before short ones lose anything.
    while excess > 0:
        candidates = [i for i in flexible if widths[i] > minimum[i]]
        if not candidates:
            candidates = [i for i in rest if widths[i] > minimum[i]]
        if not candidates:
            break
        widest = max(candidates, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
    return widths


def render_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], max_width: int = 80, flex: Sequence[str] = ()
) -> str:
    """A heavy-head box table (rich's HEAVY_HEAD look) fitted to ``max_width`` cells."""
    widths = _column_widths(headers, rows, max_width, flex)
    top = "┏" + "┳".join("━" * (w + 2) for w in widths) + "┓"
    head = "┃" + "┃".join(f" {_fit(h, w)} " for h, w in zip(headers, widths, strict=True)) + "┃"
    sep = "┡" + "╇".join("━" * (w + 2) for w in widths) + "┩"
    bottom = "└" + "┴".join("─" * (w + 2) for w in widths) + "┘"
    lines = [top, head, sep]
    if rows:  # column by column: each column is fitted in one pass
        fitted = [_fit_column(column, w) for column, w in zip(zip(*rows, strict=True), widths, strict=True)]
        lines.extend("│ " + " │ ".join(cells) + " │" for cells in zip(*fitted, strict=True))
    lines.append(bottom)
    return "\n".join(lines)


def ago(timestamp: float | None, now: float | None = None) -> str:
    """'42 seconds ago' style age of a Unix timestamp."""
    if timestamp is None:
        return "-"
    now = time.time() if now is None else now
    seconds = int(now - timestamp)
    if seconds < 0:
        return "in the future"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'' if n == 1 else 's'} ago"
    return f"{seconds} second{'' if seconds == 1 else 's'} ago"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def flow_row(flow: dict[str, Any] | list[Any], now: float) -> tuple[str, ...]:
    """The printed cells of a flow: a `table_row` array, or a flow object (turned into one)."""
    fid, method, status, failed, host, path, ua, start = flow if isinstance(flow, list) else table_row(flow)
    return (
        "" if fid is None else str(fid)[:8],
        "" if method is None else str(method),
        str(status) if status is not None else "ERR" if failed else "…",
        "" if host is None else str(host),
        "" if path is None else str(path),
        "" if ua is None else str(ua),
        ago(start, now),
    )


def render_flows(flows: Sequence[dict[str, Any] | list[Any]], max_width: int = 80, now: float | None = None) -> str:
    now = time.time() if now is None else now
    rows = [flow_row(f, now) for f in flows]
    return render_table(FLOW_HEADERS, rows, max_width, FLOW_FLEX)


def diff_text(lines: Sequence[str]) -> Text:
    """Unified diff lines as rich Text, coloured the way `git diff` does."""
    from rich.text import Text

    text = Text()
    for i, line in enumerate(lines):
        if i:
            text.append("\n")
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("@@"):
            style = "cyan"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        else:
            style = ""
        text.append(line, style=style)
    return text


def print_comparisons(console: Console, comparisons: Sequence[FlowComparison]) -> None:
    from rich.panel import Panel
    from rich.text import Text

    for c in comparisons:
        if c.missing_snapshot:
            console.print(Text(f"{c.flow_id}: no client request snapshot recorded."))
            continue
        if c.shape:
            console.print(Text(f"{c.flow_id}: shape {c.shape} applied."))
        if c.header_changes:
            console.print(Panel(diff_text(c.header_changes), title=f"Header changes — {c.flow_id}"))
        if c.url_change:
            before, after = c.url_change
            console.print(Panel(diff_text([f"- {before}", f"+ {after}"]), title=f"URL change — {c.flow_id}"))
        if c.body_diff:
            console.print(Panel(diff_text(c.body_diff), title=f"Body diff — {c.flow_id}"))
        else:
            console.print(Text(f"{c.flow_id}: request bodies are identical."))


CONVERSATION_HEADERS = ("ID", "Source", "Session", "Turns", "Tokens in/out", "Duration", "Model", "Started")


def render_conversations(conversations: Sequence[Conversation], max_width: int = 80, now: float | None = None) -> str:
    now = time.time() if now is None else now
    rows = [
        (
            str(c.flows[0].get("id", ""))[:8],
            c.source,
            c.key,
            str(c.turns),
            f"{c.usage.input_tokens}/{c.usage.output_tokens}",
            duration(c.duration),
            c.model or "-",
            ago(c.started, now),
        )
        for c in conversations
    ]
    return render_table(CONVERSATION_HEADERS, rows, max_width, ("Session", "Model"))
