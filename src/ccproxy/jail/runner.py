"""Bring a jail up around one command, wait for it with signals forwarded, tear everything down."""

from __future__ import annotations

import contextlib
import errno
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ccproxy.jail.cabundle import child_env, write_bundle
from ccproxy.jail.keys import load_or_create_keys, write_private
from ccproxy.jail.preflight import preflight
from ccproxy.jail.script import JAIL_CA_BUNDLE, render_script, resolv_conf_text
from ccproxy.jail.slots import acquire_slot, release_slot
from ccproxy.jail.system import kernel_wireguard_loaded
from ccproxy.jail.wgconf import setconf_text

SLIRP_MTU = 1500
TAP = "tap0"
# si_code of signals the kernel generates itself, e.g. Ctrl-C from the terminal: those already
# reached the command (same foreground process group), so they are not forwarded a second time.
SI_KERNEL = 0x80
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


class JailError(Exception):
    """The jail could not be brought up; the message names the failing step."""


@dataclass(frozen=True)
class JailSpec:
    state_dir: Path
    wireguard_port: int
    ca_cert: Path  # the daemon's mitmproxy CA (PEM)
    wireguard_host: str = "127.0.0.1"
    slots: int = 1  # the daemon listens on wireguard_port .. wireguard_port + slots - 1


@dataclass
class Jail:
    spec: JailSpec
    proc: subprocess.Popen[bytes] | None = None
    slirp: subprocess.Popen[bytes] | None = None
    netns: str | None = None
    wg_mode: str | None = None
    wg_pid: int = 0
    startup_seconds: float = 0.0
    slot: int | None = None
    _slot_fd: int | None = None
    _workdir: Path | None = None
    _slirp_exit_w: int | None = None
    _fds: list[int] = field(default_factory=list)

    # -- bring-up -------------------------------------------------------------------------------
    def start(self, cmd: Sequence[str], env: Mapping[str, str], stdout: int | None = None) -> None:
        t0 = time.monotonic()
        try:
            self._start(cmd, env, stdout)
        except BaseException:
            self.teardown()
            raise
        self.startup_seconds = time.monotonic() - t0

    def _start(self, cmd: Sequence[str], env: Mapping[str, str], stdout: int | None) -> None:
        spec = self.spec
        preflight(kernel_wireguard_loaded())
        if not spec.ca_cert.is_file():
            raise JailError(f"mitmproxy CA not found at {spec.ca_cert}: start the daemon first (ccproxy start)")
        if not wireguard_listener_up(spec.wireguard_host, spec.wireguard_port):
            raise JailError(
                f"nothing listens on udp {spec.wireguard_host}:{spec.wireguard_port}: start the daemon "
                "(ccproxy start) with inspector.wireguard enabled"
            )
        got = acquire_slot(spec.state_dir, spec.slots)
        if got is None:
            raise JailError(
                f"all {spec.slots} jail slot(s) are in use by other `ccproxy run --inspect` sessions; "
                "wait for one to end"
            )
        self.slot, self._slot_fd = got
        port = spec.wireguard_port + self.slot
        if not wireguard_listener_up(spec.wireguard_host, port):
            raise JailError(f"the daemon has no WireGuard listener for jail slot {self.slot} (udp port {port})")
        keys = load_or_create_keys(spec.state_dir, self.slot)
        self._workdir = Path(tempfile.mkdtemp(prefix="jail-", dir=spec.state_dir))
        write_private(self._workdir / "wg0.conf", setconf_text(keys, port))
        (self._workdir / "resolv.conf").write_text(resolv_conf_text())
        write_bundle(spec.ca_cert, self._workdir / "ca-bundle.pem")

        os.mkfifo(self._workdir / "status", 0o600)
        os.mkfifo(self._workdir / "go", 0o600)
        status_r = os.open(self._workdir / "status", os.O_RDONLY | os.O_NONBLOCK)
        self._fds.append(status_r)
        argv = [
            "unshare", "--user", "--map-root-user", "--net", "--mount", "--",
            "sh", "-c", render_script(), "ccproxy-jail",
            str(self._workdir), str(port), *cmd,
        ]  # fmt: skip
        self.proc = subprocess.Popen(argv, env=child_env(env, Path(JAIL_CA_BUNDLE)), stdout=stdout)

        line = read_line(status_r, timeout=10.0)
        try:
            if line != "ns":
                raise OSError
            self.netns = os.readlink(f"/proc/{self.proc.pid}/ns/net")
        except OSError:
            rc = self.proc.poll()
            state = "did not answer" if rc is None else f"exited {rc}"
            raise JailError(
                f"could not create the user/network namespaces (unshare {state}); "
                "run `ccproxy namespace status` for the cause"
            ) from None
        self._attach_slirp(self.proc.pid)
        go_w = open_fifo_writer(self._workdir / "go", self.proc, timeout=10.0)
        os.write(go_w, b"go\n")
        os.close(go_w)

        line = read_line(status_r, timeout=20.0)
        self._close(status_r)
        if not line.startswith("ok "):
            detail = line.removeprefix("err ") if line else "the jail setup exited early"
            raise JailError(f"jail setup failed: {detail}")
        _, self.wg_mode, pid = line.split()
        self.wg_pid = int(pid)
        # Everything is copied into the jail's private /run now; the private key leaves the disk.
        shutil.rmtree(self._workdir, ignore_errors=True)
        self._workdir = None

    def _attach_slirp(self, pid: int) -> None:
        assert self._workdir is not None
        ready_r, ready_w = self._pipe()
        # slirp4netns exits when this pipe closes, i.e. also when ccproxy itself dies.
        exit_r, self._slirp_exit_w = os.pipe()
        log = self._workdir / "slirp4netns.log"
        with log.open("wb") as out:
            self.slirp = subprocess.Popen(
                [
                    "slirp4netns",
                    "--configure",
                    f"--mtu={SLIRP_MTU}",
                    f"--ready-fd={ready_w}",
                    f"--exit-fd={exit_r}",
                    str(pid),
                    TAP,
                ],
                pass_fds=(ready_w, exit_r),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        os.close(exit_r)
        self._close(ready_w)
        ready = read_line(ready_r, timeout=10.0, until=b"1")
        self._close(ready_r)
        if ready != "1":
            raise JailError(f"slirp4netns failed: {log.read_text(errors='replace').strip()[-400:]}")

    # -- run ------------------------------------------------------------------------------------
    def wait(self, early: Sequence[int] = (), forwarded: Sequence[int] = FORWARDED) -> int:
        """Wait for the command; forward signals sent to ccproxy; shell-style exit code.

        `early`: signals caught while the jail was coming up, forwarded first.
        """
        assert self.proc is not None
        watched = {*forwarded, signal.SIGCHLD}
        old = signal.pthread_sigmask(signal.SIG_BLOCK, watched)
        try:
            for signo in early:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.proc.pid, signo)
            while (rc := self.proc.poll()) is None:
                info = signal.sigtimedwait(watched, 0.5)
                if info is None or info.si_signo == signal.SIGCHLD:
                    continue
                if info.si_code != SI_KERNEL:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self.proc.pid, info.si_signo)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        return 128 - rc if rc < 0 else rc

    # -- teardown -------------------------------------------------------------------------------
    def pids(self) -> list[int]:
        """Every process of ours still alive in the jail's network namespace, plus slirp4netns."""
        found = processes_in_netns(self.netns) if self.netns else []
        for p in (self.proc, self.slirp):
            if p is not None and p.poll() is None and p.pid not in found:
                found.append(p.pid)
        if self.wg_pid and self.wg_pid not in found and pid_alive(self.wg_pid):
            found.append(self.wg_pid)
        return found

    def teardown(self, grace: float = 1.0) -> None:
        victims = processes_in_netns(self.netns) if self.netns else []
        if self.wg_pid and self.wg_pid not in victims:
            victims.append(self.wg_pid)
        if self.proc is not None and self.proc.poll() is None and self.proc.pid not in victims:
            victims.append(self.proc.pid)
        signal_all(victims, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while any(pid_alive(p) for p in victims) and time.monotonic() < deadline:
            reap(self.proc)
            time.sleep(0.02)
        signal_all([p for p in victims if pid_alive(p)], signal.SIGKILL)
        reap_orphans(victims)
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=2)
        if self._slirp_exit_w is not None:
            self._close(self._slirp_exit_w)
            self._slirp_exit_w = None
        if self.slirp is not None:
            try:
                self.slirp.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.slirp.kill()
                self.slirp.wait()
        for fd in list(self._fds):
            self._close(fd)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        if self._slot_fd is not None:
            release_slot(self._slot_fd)
            self._slot_fd = None

    # -- fds ------------------------------------------------------------------------------------
    def _pipe(self) -> tuple[int, int]:
        r, w = os.pipe()
        self._fds += [r, w]
        return r, w

    def _close(self, *fds: int) -> None:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
            if fd in self._fds:
                self._fds.remove(fd)


def read_line(fd: int, timeout: float, until: bytes = b"\n") -> str:
    """Read from a pipe until `until`, EOF or timeout (then whatever arrived)."""
    buf = b""
    deadline = time.monotonic() + timeout
    while until not in buf:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buf += chunk
    return buf.decode(errors="replace").strip()


def open_fifo_writer(path: Path, proc: subprocess.Popen[bytes], timeout: float) -> int:
    """Open a FIFO for writing once the jail has it open for reading (ENXIO until then)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            if e.errno != errno.ENXIO or proc.poll() is not None or time.monotonic() > deadline:
                raise JailError("jail setup exited before the tap was attached") from e
            time.sleep(0.005)


def wireguard_listener_up(host: str, port: int) -> bool:
    """A UDP socket is bound there iff we cannot bind it ourselves."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return True
        return False


def processes_in_netns(netns: str) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{entry.name}/ns/net") == netns:
                pids.append(int(entry.name))
    return pids


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            # A zombie is dead for our purposes; its parent reaps it.
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def signal_all(pids: Sequence[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def become_subreaper() -> None:
    """Orphans of the jailed command (wireguard-go once the command exits) get re-parented to us,
    so teardown can reap them instead of leaving zombies to an init that may never collect them."""
    import ctypes

    pr_set_child_subreaper = 36
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0)


def reap_orphans(pids: Sequence[int]) -> None:
    deadline = time.monotonic() + 1.0
    pending = list(pids)
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pending.remove(pid)  # not our child (or already reaped)
                continue
            if done:
                pending.remove(pid)
        if pending:
            time.sleep(0.01)


def reap(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None:
        proc.poll()
