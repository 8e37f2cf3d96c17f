"""Who may read /ui: the real daemon, plain HTTP clients playing a browser, a rebinding page, a foreign site."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ccproxy.addons.viewer import COOKIE, viewer_key
from tests.support.daemon import DaemonProcess
from tests.support.fake_provider import FakeProvider


@pytest.fixture(scope="module")
def daemon(shared_daemon: DaemonProcess, shared_fake: FakeProvider) -> Iterator[DaemonProcess]:
    httpx.post(
        shared_daemon.url + "/v1/messages",
        json={"model": "claude-test", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"},
        trust_env=False,
    ).raise_for_status()
    yield shared_daemon


def key(d: DaemonProcess) -> str:
    return viewer_key(d.token_headers()["x-ccproxy-token"])


def get(d: DaemonProcess, path: str, **kw: object) -> httpx.Response:
    return httpx.get(d.url + path, trust_env=False, timeout=30, **kw)  # type: ignore[arg-type]


def test_the_url_key_becomes_a_strict_httponly_cookie(daemon: DaemonProcess) -> None:
    r = get(daemon, f"/ui/?token={key(daemon)}")
    assert r.status_code == 303 and r.headers["location"] == "/ui/"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={key(daemon)};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/ui" in cookie
    page = get(daemon, "/ui/", cookies={COOKIE: key(daemon)})
    assert page.status_code == 200 and '<script src="/ui/viewer.js">' in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("path", "headers", "cookie", "status", "message"),
    [
        ("/ui/api/sessions", {}, False, 401, "needs its key"),
        ("/ui/", {}, False, 401, "needs its key"),
        ("/ui/?token=wrong", {}, False, 401, "wrong viewer token"),
        ("/ui/api/sessions", {"host": "rebind.example:{port}"}, True, 403, "loopback Host"),
        ("/ui/api/sessions", {"origin": "https://evil.example"}, True, 403, "origin"),
        ("/ui/api/sessions", {"sec-fetch-site": "cross-site"}, True, 403, "cross-site"),
        ("/ui/api/sessions", {"sec-fetch-site": "same-site"}, True, 403, "cross-site"),
    ],
)
def test_refusals(
    daemon: DaemonProcess, path: str, headers: dict[str, str], cookie: bool, status: int, message: str
) -> None:
    headers = {k: v.format(port=daemon.port) for k, v in headers.items()}
    r = get(daemon, path, headers=headers, cookies={COOKIE: key(daemon)} if cookie else None)
    assert r.status_code == status
    assert message in r.text
    assert "<" not in r.text  # a refusal is plain text, no page


def test_the_control_token_itself_is_not_the_viewer_key(daemon: DaemonProcess) -> None:
    token = daemon.token_headers()["x-ccproxy-token"]
    assert key(daemon) != token
    assert get(daemon, "/ui/api/sessions", cookies={COOKIE: token}).status_code == 401


def test_viewer_requests_are_never_recorded(daemon: DaemonProcess) -> None:
    get(daemon, "/ui/api/sessions", cookies={COOKIE: key(daemon)}).raise_for_status()
    assert not [f for f in daemon.flows() if f["request"]["path"].startswith("/ui")]


def test_event_stream_starts_at_the_newest_flow(daemon: DaemonProcess) -> None:
    r = get(daemon, "/ui/api/events", cookies={COOKIE: key(daemon)})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    lines = r.text.splitlines()
    assert lines[0].startswith("retry: ")
    assert any(line.startswith("id: ") for line in lines) and "event: flow" not in lines
    # a client one event behind gets that event at once
    cursor = int(next(line for line in lines if line.startswith("id: "))[4:])
    behind = get(daemon, "/ui/api/events", cookies={COOKIE: key(daemon)}, headers={"last-event-id": str(cursor - 1)})
    assert "event: flow" in behind.text and f"id: {cursor}" in behind.text


def test_ui_command_prints_the_url(daemon: DaemonProcess) -> None:
    r = daemon.cli("ui", "--print")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{daemon.url}/ui/?token={key(daemon)}"
    status = daemon.cli("status")
    assert f"{daemon.url}/ui/?token={key(daemon)}" in status.stdout.replace("\n", "")


def test_flows_view_with_an_unknown_session_is_one_line(daemon: DaemonProcess, tmp_path: object) -> None:
    r = daemon.cli("flows", "view", "--session", "no-such-session", "--html", "/dev/null")
    assert r.returncode == 1
    assert r.stderr.startswith("ccproxy: error: --session 'no-such-session': no session")
    assert len(r.stderr.strip().splitlines()) == 1


def test_an_open_page_does_not_hold_up_shutdown(shared_fake: FakeProvider, tmp_path: Path) -> None:
    """SIGTERM drains in-flight requests for shutdown_grace; a page's waiting event request is
    answered normally at once (a request still waiting when the grace ends gets an error)."""
    d = DaemonProcess(tmp_path / "cfg", {"ccproxy": {"shutdown_grace": 120, "providers": {}}}).start()
    try:
        k = key(d)
        cursor = get(d, "/ui/api/events", cookies={COOKIE: k}).text.split("id: ")[1].split()[0]
        answered: list[httpx.Response] = []
        waiting = threading.Thread(
            target=lambda: answered.append(
                get(d, "/ui/api/events", cookies={COOKIE: k}, headers={"last-event-id": cursor})
            )
        )
        waiting.start()
        # the request is in the daemon (its connection is open) before the signal
        deadline_polls = 0
        while not _held(d) and deadline_polls < 2000:
            deadline_polls += 1
            threading.Event().wait(0.01)
        assert d.proc is not None
        d.proc.terminate()
        assert d.proc.wait(timeout=60) == 0
        waiting.join(timeout=60)
        assert answered and answered[0].status_code == 200
        assert answered[0].headers["content-type"].startswith("text/event-stream")
    finally:
        d.stop()


def _held(d: DaemonProcess) -> bool:
    """Whether the daemon holds a client connection besides ours (ss lists the listener's peers)."""
    import subprocess

    out = subprocess.run(
        ["ss", "-Htn", "state", "established", f"( sport = :{d.port} )"], capture_output=True, text=True
    )
    return bool(out.stdout.strip())


def test_ui_without_a_daemon_is_one_line(tmp_path: Path) -> None:
    d = DaemonProcess(tmp_path / "cfg", {"ccproxy": {}})  # configured, never started
    r = d.cli("ui", "--print")
    assert r.returncode == 1
    assert r.stderr.strip() == f"ccproxy: error: ccproxy is not running at {d.url} (start it with `ccproxy start`)"
