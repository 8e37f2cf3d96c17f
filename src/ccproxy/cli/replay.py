"""`ccproxy replay`: serve recorded flows as a deterministic fake provider."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType

import click

from ccproxy.cli.common import fail, get_config
from ccproxy.flows.jqchain import JqFilterError


@click.command("replay")
@click.option(
    "--from", "source", type=click.Path(dir_okay=False), help="FILE.mitm (flows export) or FILE.har (flows dump)."
)
@click.option("--jq", "jq_filters", multiple=True, metavar="FILTER", help="Select flows of flows.db (array → array).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=4010, show_default=True, help="0: any free port (printed).")
@click.option("--fast", is_flag=True, help="Send recorded streams at once instead of at their recorded pace.")
@click.option("--strict", is_flag=True, help="Only exact matches (method, path, body); no match by order.")
@click.pass_context
def replay(
    ctx: click.Context,
    source: str | None,
    jq_filters: tuple[str, ...],
    host: str,
    port: int,
    fast: bool,
    strict: bool,
) -> None:
    """Answer requests with recorded responses: point a client's base URL at it and run offline."""
    from ccproxy.replay.matching import Matcher
    from ccproxy.replay.recording import from_file, from_store
    from ccproxy.replay.server import ReplayServer

    if bool(source) == bool(jq_filters):
        fail("replay needs --from FILE.mitm|FILE.har or --jq FILTER over the flow store (one of them)", 2)
    try:
        if source:
            exchanges = from_file(Path(source))
        else:
            config = get_config(ctx)
            filters = [*config.ccproxy.flows.default_jq_filters, *jq_filters]
            exchanges = from_store(config.state_dir / "flows.db", filters)
    except JqFilterError as e:
        fail(str(e), 2)
    except ValueError as e:
        fail(str(e), 2)
    if not exchanges:
        fail("nothing to replay: the selection holds no flow with a response", 1)
    try:
        server = ReplayServer(host, port, Matcher(exchanges, strict=strict), fast=fast)
    except OSError as e:
        fail(f"cannot listen on {host}:{port}: {e.strerror or e}")

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    click.echo(f"ccproxy replay: {len(exchanges)} recorded responses on {server.url}")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
