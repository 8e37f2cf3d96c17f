"""The jail for real: namespaces, slirp4netns, WireGuard into a real mitmproxy, a loopback TLS upstream."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.jail.conftest import PINNED, JailEnv, requires_curl, requires_jail

pytestmark = [pytest.mark.jail, requires_jail]

CURL = ("curl", "-sS", "-m", "20", "--fail-with-body")


def flows_since(env: JailEnv, known: set[str]) -> list[dict]:
    deadline = time.monotonic() + 5
    while True:
        new = [f for f in env.flows() if f["id"] not in known]
        if new or time.monotonic() > deadline:
            return new
        time.sleep(0.05)


def flow_ids(env: JailEnv) -> set[str]:
    return {f["id"] for f in env.flows()}


@requires_curl
def test_curl_through_the_jail_is_captured_and_decrypted(jail_env: JailEnv) -> None:
    known = flow_ids(jail_env)
    got = len(jail_env.upstream.received)
    body = '{"model": "claude-3-5-haiku-20241022", "max_tokens": 5, "messages": []}'
    r = jail_env.run(*CURL, f"https://{PINNED}/v1/messages", "-H", "content-type: application/json", "-d", body)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["type"] == "message"
    [flow] = flows_since(jail_env, known)
    assert flow["listener"] == "wireguard"
    assert flow["request"]["pretty_host"] == PINNED
    assert flow["request"]["url"] == f"https://{PINNED}/v1/messages"
    # Decrypted: the daemon saw the plaintext of both directions.
    assert json.loads(flow["request"]["body"])["model"] == "claude-3-5-haiku-20241022"
    assert json.loads(flow["response"]["body"])["type"] == "message"
    # The upstream saw the request over loopback, i.e. inspector.resolve pinned the connection.
    assert jail_env.upstream.received[got]["path"] == "/v1/messages"


def test_official_anthropic_sdk_in_the_jail(jail_env: JailEnv) -> None:
    pytest.importorskip("anthropic")
    known = flow_ids(jail_env)
    script = (
        "import anthropic\n"
        "c = anthropic.Anthropic(api_key='sk-ant-test-not-a-key', max_retries=0)\n"
        "m = c.messages.create(model='claude-3-5-haiku-20241022', max_tokens=16,"
        " messages=[{'role': 'user', 'content': 'hi'}])\n"
        "print(m.type, m.role)\n"
    )
    r = jail_env.run(sys.executable, "-c", script)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["message", "assistant"]
    [flow] = flows_since(jail_env, known)
    assert flow["request"]["pretty_host"] == PINNED
    assert flow["request"]["path"] == "/v1/messages"
    assert flow["ccproxy"]["client_wire"] == "anthropic"
    sent = json.loads(flow["request"]["body"])
    assert sent["messages"] == [{"role": "user", "content": "hi"}]
    assert flow["request"]["headers"]["user-agent"].startswith("Anthropic/Python")


KILL_SWITCH_PROBE = r"""
import socket, sys
port = int(sys.argv[1])
def tcp(addr):
    try:
        socket.create_connection((addr, port), timeout=2).close()
        return "connected"
    except OSError as e:
        return type(e).__name__
def udp(addr, p):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(b"x", (addr, p))
        return "sent"
    except OSError as e:
        return type(e).__name__
def v6():
    try:
        socket.create_connection(("fd00::2", port), timeout=2).close()
        return "connected"
    except OSError as e:
        return type(e).__name__
print(tcp("10.0.2.2"), tcp("127.0.0.1"), udp("10.0.2.3", 53), udp("10.0.2.2", port), v6())
"""


def test_kill_switch_blocks_direct_connections(jail_env: JailEnv) -> None:
    port = jail_env.upstream.port  # listening on the host's 127.0.0.1: the thing a leak would reach
    got = len(jail_env.upstream.received)
    r = jail_env.run(sys.executable, "-c", KILL_SWITCH_PROBE, str(port))
    assert r.returncode == 0, r.stderr
    host_loopback, own_loopback, slirp_dns, udp_host, ipv6 = r.stdout.split()
    blocked = {"PermissionError", "ConnectionRefusedError", "TimeoutError"}
    assert host_loopback in blocked  # would be "connected" if the jail reached the host's loopback
    assert own_loopback == "ConnectionRefusedError"  # the jail's 127.0.0.1 is its own, empty
    assert slirp_dns in blocked | {"ConnectionRefusedError"}
    assert udp_host in blocked  # only the WireGuard port may leave via the tap
    assert ipv6 in blocked | {"OSError"}  # no IPv6 route, or rejected
    assert len(jail_env.upstream.received) == got


def test_child_environment_has_ca_bundle_and_no_proxy_variables(jail_env: JailEnv) -> None:
    env = jail_env.env(HTTPS_PROXY="http://127.0.0.1:9", http_proxy="http://127.0.0.1:9", NO_PROXY="*")
    r = jail_env.run("sh", "-c", 'env; echo "bundle=$(grep -c "BEGIN CERTIFICATE" "$SSL_CERT_FILE")"', env=env)
    assert r.returncode == 0, r.stderr
    names = {line.split("=", 1)[0] for line in r.stdout.splitlines() if "=" in line}
    assert not {n for n in names if n.lower() in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")}
    values = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    for var in ("SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        assert values[var] == "/run/ccproxy/ca-bundle.pem"
    assert int(values["bundle"]) >= 2  # system CAs plus the mitmproxy CA


@pytest.mark.parametrize(
    ("cmd", "code"),
    [
        (["true"], 0),
        (["sh", "-c", "exit 3"], 3),
        (["sh", "-c", "exit 255"], 255),
        (["sh", "-c", "kill -TERM $$"], 128 + signal.SIGTERM),
        (["sh", "-c", "kill -KILL $$"], 128 + signal.SIGKILL),
        (["/nonexistent/command"], 127),  # shell conventions: not found
        (["/etc/passwd"], 126),  # not executable
    ],
)
def test_exit_codes_propagate(jail_env: JailEnv, cmd: list[str], code: int) -> None:
    assert jail_env.run(*cmd).returncode == code


def live_in_netns(netns: str) -> list[int]:
    from ccproxy.jail.runner import pid_alive, processes_in_netns

    return [p for p in processes_in_netns(netns) if pid_alive(p)]


def slirp_for(pid: str) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"slirp4netns") and pid.encode() in argv:
                out.append(int(entry.name))
    return out


def test_teardown_leaves_no_process_behind(jail_env: JailEnv) -> None:
    # A background child that would outlive the command must be killed too.
    r = jail_env.run("sh", "-c", "sleep 300 & readlink /proc/self/ns/net; echo $$")
    assert r.returncode == 0, r.stderr
    netns, pid = r.stdout.split()
    assert netns.startswith("net:[")
    assert live_in_netns(netns) == []
    assert slirp_for(pid) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signal_to_ccproxy_is_forwarded_and_everything_is_torn_down(jail_env: JailEnv, sig: int) -> None:
    proc = subprocess.Popen(
        jail_env.cli("run", "--inspect", "--", "sh", "-c", "readlink /proc/self/ns/net; echo $$; exec sleep 300"),
        stdout=subprocess.PIPE, text=True, env=jail_env.env(),
        preexec_fn=lambda: signal.signal(sig, signal.SIG_DFL),  # runners may start us with SIGINT ignored
    )  # fmt: skip
    assert proc.stdout is not None
    netns = proc.stdout.readline().strip()
    pid = proc.stdout.readline().strip()
    assert live_in_netns(netns)
    t0 = time.monotonic()
    proc.send_signal(sig)
    assert proc.wait(timeout=10) == 128 + sig
    assert time.monotonic() - t0 < 5
    assert live_in_netns(netns) == []
    assert slirp_for(pid) == []


UNPRIVILEGED = "ccjail"


@pytest.fixture(scope="module")
def unprivileged_user() -> str:
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name  # already unprivileged
    if shutil.which("runuser") is None:
        pytest.skip("runuser (util-linux) not on PATH")
    try:
        pwd.getpwnam(UNPRIVILEGED)
    except KeyError:
        if shutil.which("useradd") is None:
            pytest.skip("useradd not on PATH (cannot create an unprivileged user)")
        subprocess.run(["useradd", "--system", "--no-create-home", UNPRIVILEGED], check=True)
    probe = subprocess.run(["runuser", "-u", UNPRIVILEGED, "--", sys.executable, "-c", "import ccproxy.jail"],
                           capture_output=True, text=True)  # fmt: skip
    if probe.returncode != 0:
        pytest.skip(
            f"{sys.executable} is not usable by an unprivileged user ({probe.stderr.strip()[-200:]}); "
            "e.g. python under /root needs `chmod o+x /root`"
        )
    return UNPRIVILEGED


@requires_curl
def test_jail_as_unprivileged_user(jail_env: JailEnv, unprivileged_user: str) -> None:
    user = pwd.getpwnam(unprivileged_user)
    # The user's own config dir: the daemon's key file and CA, owned by that user as in real life.
    cfg = jail_env.root / f"config-{unprivileged_user}"
    cfg.mkdir(exist_ok=True)
    for path in (*jail_env.config_dir.glob("wireguard*.conf"), jail_env.config_dir / "mitmproxy-ca-cert.pem"):
        shutil.copy2(path, cfg / path.name)
    (cfg / "ccproxy.yaml").write_text((jail_env.config_dir / "ccproxy.yaml").read_text())
    for p in (cfg, *cfg.iterdir()):
        os.chown(p, user.pw_uid, user.pw_gid)
    known = flow_ids(jail_env)
    argv = jail_env.cli("run", "--inspect", "--", "sh", "-c", f"id -u; {' '.join(CURL)} https://{PINNED}/v1/models",
                        config_dir=cfg)  # fmt: skip
    if os.geteuid() == 0:
        argv = ["runuser", "-u", unprivileged_user, "--", *argv]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=jail_env.env())
    assert r.returncode == 0, r.stderr
    inner_uid, body = r.stdout.split("\n", 1)
    assert inner_uid == "0"  # mapped root inside, the unprivileged user outside
    assert json.loads(body) == {"ok": True}
    [flow] = flows_since(jail_env, known)
    assert flow["request"]["path"] == "/v1/models"


def test_namespace_doctor_passes(jail_env: JailEnv) -> None:
    r = subprocess.run(jail_env.cli("namespace", "doctor", "--json"), capture_output=True, text=True,
                       timeout=60, env=jail_env.env())  # fmt: skip
    report = json.loads(r.stdout)
    failed = [c for c in report["checks"] if not c["ok"]]
    assert r.returncode == 0 and report["ok"], failed
    names = {c["name"] for c in report["checks"]}
    assert {"dns", "tunnel", "tls", "killswitch_host_loopback", "killswitch_slirp_dns", "env"} <= names


def test_namespace_status_json(jail_env: JailEnv) -> None:
    r = subprocess.run(jail_env.cli("namespace", "status", "--json"), capture_output=True, text=True,
                       env=jail_env.env())  # fmt: skip
    st = json.loads(r.stdout)
    assert r.returncode == 0, st["problems"]
    assert st["ok"] and st["userns"] and st["tools"]["slirp4netns"]
    assert st["wireguard"] in ("kernel", "userspace")


def test_missing_daemon_is_one_clear_line(jail_env: JailEnv, tmp_path: Path) -> None:
    from ccproxy.jail.slots import DEFAULT_SLOTS
    from tests.support.daemon import free_udp_port

    (tmp_path / "ccproxy.yaml").write_text(
        yaml.safe_dump({"ccproxy": {"inspector": {"wireguard_port": free_udp_port(DEFAULT_SLOTS)}}})
    )
    shutil.copy2(jail_env.config_dir / "mitmproxy-ca-cert.pem", tmp_path)
    r = subprocess.run(jail_env.cli("run", "--inspect", "--", "true", config_dir=tmp_path),
                       capture_output=True, text=True, env=jail_env.env())  # fmt: skip
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "nothing listens on udp 127.0.0.1:" in r.stderr


@requires_curl
def test_keylogs_are_written_private_and_in_wireshark_formats(jail_env: JailEnv) -> None:
    from ccproxy.jail.keys import load_or_create_keys

    tls_path, wg_path = jail_env.config_dir / "tls.keylog", jail_env.config_dir / "wg.keylog"
    r = jail_env.run(*CURL, f"https://{PINNED}/v1/models")
    assert r.returncode == 0, r.stderr
    for path in (tls_path, wg_path):
        assert path.stat().st_mode & 0o777 == 0o600
    labels = {line.split()[0] for line in tls_path.read_text().splitlines() if line.strip()}
    # NSS key log: TLS 1.3 traffic secrets (jail <-> daemon and daemon <-> upstream).
    assert {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"} <= labels
    keys = load_or_create_keys(jail_env.config_dir)
    wg = wg_path.read_text().splitlines()
    assert f"LOCAL_STATIC_PRIVATE_KEY = {keys.server_key}" in wg
    assert f"REMOTE_STATIC_PUBLIC_KEY = {keys.client_public}" in wg


def test_daemon_log_never_shows_the_wireguard_private_key(jail_env: JailEnv) -> None:
    from ccproxy.jail.keys import load_or_create_keys

    keys = load_or_create_keys(jail_env.config_dir)
    text = jail_env.daemon.logs() + "".join(p.read_text() for p in jail_env.config_dir.glob("*.log"))
    assert keys.client_key not in text and keys.server_key not in text


GRACEFUL_SIGINT = r"""
import signal, sys, time
signal.signal(signal.SIGINT, lambda *_: (time.sleep(0.5), print("cleaned up", flush=True), sys.exit(42)))
print("ready", flush=True)
time.sleep(30)
sys.exit(1)
"""


def test_ctrl_c_on_a_terminal_lets_the_command_finish_its_own_shutdown(jail_env: JailEnv) -> None:
    """Ctrl-C reaches the command (same foreground group); ccproxy itself waits for its exit code."""
    import pty

    if shutil.which("setsid") is None:
        pytest.skip("setsid (util-linux) not on PATH")
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        ["setsid", "--ctty", *jail_env.cli("run", "--inspect", "--", sys.executable, "-c", GRACEFUL_SIGINT)],
        stdin=slave, stdout=slave, stderr=slave, env=jail_env.env(),
        # Test runners are often started with SIGINT ignored (background jobs); a user's shell is not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 30
    while b"ready" not in seen and time.monotonic() < deadline:
        seen += os.read(master, 1024)
    assert b"ready" in seen, seen
    os.write(master, b"\x03")  # the terminal turns this into SIGINT for the foreground process group
    assert proc.wait(timeout=15) == 42
    with contextlib.suppress(OSError):
        seen += os.read(master, 1024)
    assert b"cleaned up" in seen
    os.close(master)


def wireguard_go_pids() -> set[int]:
    from ccproxy.jail.runner import pid_alive

    out = set()
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "wireguard-go":
                out.add(int(entry.name))
    return {p for p in out if pid_alive(p)}


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ("wg", "jail setup failed: wg setconf: boom: cannot configure"),  # after wireguard-go started
        ("slirp4netns", "slirp4netns failed: boom: cannot configure"),
        (
            "unshare",
            "could not create the user/network namespaces (unshare exited 1); "
            "run `ccproxy namespace status` for the cause",
        ),
    ],
)
def test_failed_bring_up_is_one_line_and_leaves_nothing_behind(
    jail_env: JailEnv, tmp_path: Path, broken: str, message: str
) -> None:
    # Every tool real except one, which fails.
    for tool in ("slirp4netns", "ip", "iptables", "ip6tables", "iptables-restore", "ip6tables-restore", "wg",
                 "unshare", "nsenter", "setpriv", "sysctl", "wireguard-go", "sh", "mount", "mkdir", "cat",
                 "chmod", "readlink", "setsid", "sleep", "tr", "cp", "dirname", "true"):  # fmt: skip
        if tool != broken and (path := shutil.which(tool)):
            (tmp_path / tool).symlink_to(path)
    (tmp_path / broken).write_text("#!/bin/sh\necho 'boom: cannot configure' >&2\nexit 1\n")
    (tmp_path / broken).chmod(0o755)
    before = wireguard_go_pids()
    r = jail_env.run("true", env=jail_env.env(PATH=str(tmp_path)))
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == f"ccproxy run --inspect: {message}"
    assert wireguard_go_pids() <= before
    assert not list(jail_env.config_dir.glob("jail-*/"))  # temporary files removed


def test_signals_ccproxy_was_started_ignoring_stay_ignored(jail_env: JailEnv) -> None:
    proc = subprocess.Popen(
        jail_env.cli("run", "--inspect", "--", "sh", "-c", "echo up; sleep 2; echo survived"),
        stdout=subprocess.PIPE, text=True, env=jail_env.env(),
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),  # as under nohup
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "up"
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(timeout=15) == 0
    assert proc.stdout.read().strip() == "survived"


@requires_curl
def test_concurrent_jails_do_not_steal_each_others_traffic(jail_env: JailEnv) -> None:
    # With one shared peer key the daemon would send replies to whichever jail spoke last.
    loop = (
        "ok=0; for i in $(seq 20); do "
        f"curl -sS -m 5 -o /dev/null https://{PINNED}/v1/models 2>/dev/null && ok=$((ok+1)); done; echo $ok"
    )
    procs = [
        subprocess.Popen(
            jail_env.cli("run", "--inspect", "--", "sh", "-c", loop),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=jail_env.env(),
        )
        for _ in range(3)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [out.strip() for out, _ in results] == ["20", "20", "20"], [err for _, err in results]


def test_all_slots_busy_is_one_clear_line(jail_env: JailEnv) -> None:
    from ccproxy.jail.slots import DEFAULT_SLOTS, acquire_slot, release_slot

    held = [acquire_slot(jail_env.config_dir, DEFAULT_SLOTS) for _ in range(DEFAULT_SLOTS)]
    try:
        assert all(held)
        r = jail_env.run("true")
    finally:
        for h in held:
            if h:
                release_slot(h[1])
    assert r.returncode == 1
    assert r.stderr == (
        f"ccproxy run --inspect: all {DEFAULT_SLOTS} jail slot(s) are in use by other "
        "`ccproxy run --inspect` sessions; wait for one to end\n"
    )
