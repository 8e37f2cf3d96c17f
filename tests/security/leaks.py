"""Planted-secret search: plant credentials, then look for them in every output ccproxy has.

Each output is a collector: a function from the running daemon to (where, text) pairs. The
MCP server, spans and the viewer add theirs to COLLECTORS (or pass their own tuple), e.g.

    def mcp_results(d: DaemonProcess) -> Iterator[Output]:
        yield Output("mcp flows_list", call_tool(d, "flows_list"))

    leaks = find_leaks(d, SECRETS, (*COLLECTORS, mcp_results))

A secret counts as found in its plain, %-encoded and JSON-escaped forms.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx

from tests.support.daemon import DaemonProcess


@dataclass(frozen=True)
class Output:
    where: str
    text: str


Collector = Callable[[DaemonProcess], Iterable[Output]]

# The flow store with `flows.store_secrets: true` holds forwarded credentials by design (what
# `flows dump --reveal-secrets` reads): then, and only if owner-only, it may contain them.
PRIVATE_STORES = ("flows.db", "flows.db-wal", "flows.db-shm")


def _cli(d: DaemonProcess, *args: str) -> str:
    r = d.cli(*args)
    assert r.returncode == 0, f"ccproxy {' '.join(args)} failed: {r.stderr}"
    return r.stdout + r.stderr


def flows_endpoint(d: DaemonProcess) -> Iterator[Output]:
    listing = httpx.get(d.url + "/flows", params={"bodies": "1"}, timeout=10, trust_env=False)
    yield Output("GET /flows?bodies=1", listing.text)
    for flow in listing.json():
        one = httpx.get(f"{d.url}/flows/{flow['id']}", timeout=10, trust_env=False)
        yield Output(f"GET /flows/{flow['id'][:8]}", one.text)


def flows_cli(d: DaemonProcess) -> Iterator[Output]:
    yield Output("flows list", _cli(d, "flows", "list"))
    yield Output("flows list --json", _cli(d, "flows", "list", "--json", "--bodies"))
    yield Output("flows dump (HAR)", _cli(d, "flows", "dump"))


def logs(d: DaemonProcess) -> Iterator[Output]:
    yield Output("console (daemon stderr)", d.logs())
    for path in sorted(d.state_dir.glob("ccproxy.log*")):
        yield Output(f"log file {path.name}", path.read_text(errors="replace"))
    yield Output("ccproxy logs", _cli(d, "logs", "-n", "1000"))


def files_at_rest(d: DaemonProcess) -> Iterator[Output]:
    """Every file in the config and state dirs; the flow store only if it is not owner-only
    while the config asks it to keep secrets."""
    keeps_secrets = bool(d.config["ccproxy"].get("flows", {}).get("store_secrets"))
    seen: set[Path] = set()
    for root in (d.config_dir, d.state_dir):
        for path in sorted(root.rglob("*")):
            if not path.is_file() or path in seen:
                continue
            seen.add(path)
            if keeps_secrets and path.name in PRIVATE_STORES and stat.S_IMODE(path.stat().st_mode) == 0o600:
                continue
            yield Output(f"file {path.relative_to(root)} ({oct(stat.S_IMODE(path.stat().st_mode))})",
                         path.read_bytes().decode("latin-1"))  # fmt: skip


def viewer_pages(d: DaemonProcess) -> Iterator[Output]:
    """The conversation viewer's API as the page reads it: sessions, every turn, every raw view."""
    from ccproxy.addons.viewer import COOKIE, viewer_key

    token = d.token_headers()["x-ccproxy-token"]
    with httpx.Client(base_url=d.url, trust_env=False, timeout=30, cookies={COOKIE: viewer_key(token)}) as ui:
        sessions = ui.get("/ui/api/sessions")
        yield Output("GET /ui/api/sessions", sessions.text)
        for row in sessions.json():
            conv = ui.get("/ui/api/session", params={"key": row["key"]})
            yield Output(f"GET /ui/api/session?key={row['key']}", conv.text)
            for turn in conv.json()["turns"]:
                yield Output(
                    f"GET /ui/api/raw?id={turn['flow_id'][:8]}",
                    ui.get("/ui/api/raw", params={"id": turn["flow_id"]}).text,
                )


def viewer_export(d: DaemonProcess) -> Iterator[Output]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "export.html"
        _cli(d, "flows", "view", "--html", str(out))
        yield Output("flows view --html", out.read_text())


COLLECTORS: tuple[Collector, ...] = (flows_endpoint, flows_cli, logs, files_at_rest, viewer_pages, viewer_export)


def forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}


def find_leaks(d: DaemonProcess, secrets: Mapping[str, str], collectors: Iterable[Collector] = COLLECTORS) -> list[str]:
    """`where: label` for every planted secret found in any output."""
    found = []
    for collect in collectors:
        for out in collect(d):
            for label, secret in secrets.items():
                if any(f in out.text for f in forms(secret)):
                    found.append(f"{out.where}: {label}")
    return found
