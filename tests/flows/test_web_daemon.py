"""The web inspector served by the real daemon: flows the CLI sees are visible there."""

from __future__ import annotations

import socket

import httpx
from tests.conftest import all_wires_providers
from tests.support.daemon import free_port
from tests.support.fake_provider import FakeProvider


def test_daemon_serves_web_inspector_with_token(fake: FakeProvider, start_daemon) -> None:
    web_port = free_port()
    cfg = {"ccproxy": {"providers": all_wires_providers(fake), "inspector": {"web": True, "port": web_port}}}
    d = start_daemon(cfg)
    httpx.post(d.url + "/v1/messages?known=1", json={"model": "m"}, trust_env=False)
    url_file = d.config_dir / "web-inspector.url"
    assert oct(url_file.stat().st_mode & 0o777) == "0o600"
    token = url_file.read_text().strip().split("token=")[1]
    base = f"http://127.0.0.1:{web_port}"
    assert httpx.get(base + "/flows", trust_env=False).status_code == 403
    listed = httpx.get(base + "/flows", headers={"authorization": f"Bearer {token}"}, trust_env=False).json()
    assert [f["request"]["path"] for f in listed] == ["/v1/messages?known=1"]
    # After a restart the persisted flow is still visible in the UI.
    d.stop()
    d.start()
    token = url_file.read_text().strip().split("token=")[1]
    listed = httpx.get(base + "/flows", headers={"authorization": f"Bearer {token}"}, trust_env=False).json()
    assert [f["request"]["path"] for f in listed] == ["/v1/messages?known=1"]
    # Deleting through the control API (`ccproxy flows clear`) removes it from the UI too.
    assert httpx.delete(d.url + "/flows", trust_env=False, headers=d.token_headers()).json() == {"deleted": 1}
    assert httpx.get(base + "/flows", headers={"authorization": f"Bearer {token}"}, trust_env=False).json() == []
    status = d.cli("status")
    assert f"{base}/?token=" in status.stdout
    # The URL is printed on the console for the user, never written to the log file.
    assert token in d.logs()
    assert token not in (d.config_dir / "ccproxy.log").read_text()


def test_web_port_in_use_is_one_line_error(fake: FakeProvider, tmp_path) -> None:
    from tests.support.daemon import DaemonProcess

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        d = DaemonProcess(tmp_path / "c", {"ccproxy": {"inspector": {"web": True, "port": port}}})
        r = d.cli("start")
    assert r.returncode == 1
    assert f"inspector web UI cannot listen on 127.0.0.1:{port}" in r.stderr
    assert "Traceback" not in r.stderr
