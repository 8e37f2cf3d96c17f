"""The real CLI clients (Claude Code, Codex CLI, Gemini CLI, aider; pinned in tests/clients/PINS)
through the real daemon against the fake provider, inside a loopback-only network namespace:
each client in its own wire format and routed by a transform rule to the three others, the way
the client sends by default (all four stream; aider also plain with --no-stream).

Each run's client request is kept as a shape (tests/corpus/clients/<client>/<run>.json) and
compared with the kept one, so a client update that changes its request shows up as a diff.
Review it, then regenerate with CCPROXY_UPDATE_CORPUS=1.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.clients.shape import requests_shape
from tests.clients.trial import CLIENT_KEY, CLIENTS, Client, Run, binary
from tests.conftest import CORPUS, REPO
from tests.support.canned import TEXT, wire_of_path

PINS = {
    line.split()[3]: (line.split()[1], line.split()[2])
    for line in (REPO / "tests" / "clients" / "PINS").read_text().splitlines()
    if line.strip() and not line.lstrip().startswith("#")
}
PREFIX = Path(os.environ.get("CCPROXY_CLIENTS_DIR") or REPO / ".clients")
UPDATE = os.environ.get("CCPROXY_UPDATE_CORPUS") == "1"
KEPT = CORPUS / "clients"
# the first test of a client runs all its runs (one namespace, one daemon); aider alone starts
# litellm five times
pytestmark = pytest.mark.timeout(1800)
CASES = [pytest.param(c, r, id=f"{c.name}-{r.id}") for c in CLIENTS.values() for r in c.runs]


def _unshare() -> list[str] | None:
    """The command prefix that gives a child a network namespace of its own (root: --net;
    otherwise a user namespace too), or None where the kernel or util-linux refuses."""
    exe = shutil.which("unshare")
    if exe is None:
        return None
    prefix = [exe, "--net"] if os.geteuid() == 0 else [exe, "-rn"]
    ok = subprocess.run([*prefix, "true"], capture_output=True, timeout=30).returncode == 0
    return prefix if ok else None


def _run_trial(client: Client, tmp: Path) -> dict[str, dict[str, Any]]:
    exe = binary(PREFIX, client.name)
    package, version = PINS[client.name]
    if not exe.exists():
        msg = f"{client.name} ({package} {version}) is not installed in {PREFIX.name}/: run tests/clients/install.sh"
        if os.environ.get("CI") == "true":
            pytest.fail(msg + " (.ci/run installs it; CI must not skip it)")
        pytest.skip(msg)
    prefix = _unshare()
    if prefix is None:
        pytest.skip("unshare (util-linux) cannot create a network namespace here; the clients only run inside one")
    if shutil.which("ip") is None:
        pytest.skip("ip (iproute2) is needed to bring up loopback in the namespace")
    spec = {
        "client": client.name,
        "prefix": str(PREFIX),
        "work": str(tmp / "work"),
        "runs": [r.id for r in client.runs],
    }
    (tmp / "spec.json").write_text(json.dumps(spec))
    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "tests.clients.trial", str(tmp / "spec.json"), str(tmp / "result.json")],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert proc.returncode == 0, f"trial runner failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return {r["run"]: {**r, "work": spec["work"]} for r in json.loads((tmp / "result.json").read_text())}


@pytest.fixture(scope="module")
def trials(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[Client], dict[str, dict[str, Any]]]]:
    """One namespace, daemon and fake per client, all its runs in it (started on first use)."""
    done: dict[str, dict[str, dict[str, Any]]] = {}

    def get(client: Client) -> dict[str, dict[str, Any]]:
        if client.name not in done:
            done[client.name] = _run_trial(client, tmp_path_factory.mktemp(client.name))
        return done[client.name]

    yield get


def _case(client: Client, run: Run, result: dict[str, Any]) -> dict[str, Any]:
    package, version = PINS[client.name]
    return {
        "client": client.name,
        "package": f"{package}@{version}",
        "own_wire": client.wire,
        "routed_to": run.wire,
        "argv": [a if a != run.model else "{model}" for a in result["argv"]],
        "requests": requests_shape([f["client_request"] for f in result["flows"]]),
    }


def _check_kept(client: Client, run: Run, case: dict[str, Any], work: str) -> None:
    text = json.dumps(case, indent=1, sort_keys=True) + "\n"
    # sanitised: the shape keeps no key, no scratch path, no home directory
    for secret in (CLIENT_KEY, work, str(Path.home())):
        assert secret not in text, f"recorded case would leak {secret!r}"
    path = KEPT / client.name / f"{run.id}.json"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    assert path.exists(), f"no kept case {path.relative_to(REPO)}: record it with CCPROXY_UPDATE_CORPUS=1"
    kept = path.read_text()
    if kept != text:
        diff = "".join(difflib.unified_diff(kept.splitlines(True), text.splitlines(True), "kept", "now"))
        pytest.fail(
            f"{client.name}'s request shape changed ({path.relative_to(REPO)}); review, then "
            f"regenerate with CCPROXY_UPDATE_CORPUS=1:\n{diff}"
        )


@pytest.mark.parametrize(("client", "run"), CASES)
def test_real_client(client: Client, run: Run, trials: Callable[[Client], dict[str, dict[str, Any]]]) -> None:
    result = trials(client)[run.id]
    version = PINS[client.name][1]
    assert version in result["version"], f"installed {client.name} is {result['version']!r}, pinned {version}"
    assert result["flows"], f"{client.name} sent nothing through ccproxy:\n{result['stderr']}"
    _check_kept(client, run, _case(client, run, result), result["work"])
    # the client got the fake provider's answer, converted to its own format
    assert result["exit"] == 0, f"{client.name} exited {result['exit']}:\n{result['stdout']}\n{result['stderr']}"
    assert " ".join(result["stdout"].split()).find(TEXT) >= 0, result["stdout"]
    # and it really went to the routed format's upstream, converted when that is another format
    upstream = {wire_of_path(r["path"]) for r in result["received"]}
    assert upstream == {run.wire}, (upstream, [r["path"] for r in result["received"]])
    for f in result["flows"]:
        assert f["ccproxy"]["upstream_wire"] in (run.wire, None), f["ccproxy"]
        assert f["response"]["status_code"] == 200, f
