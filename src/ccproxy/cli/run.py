"""`ccproxy run [--provider NAME] [--inspect] -- CMD ARGS...`

Without --inspect the command gets base-URL variables pointing at the reverse
listener (SDKs and most CLIs honour them); with --provider also the sentinel key
in the API-key variables, so the daemon injects that provider's credential.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import click

from ccproxy.access import loopback
from ccproxy.cli.common import control_headers, daemon_url, fail, get_cli_view, get_config
from ccproxy.providers.sentinel import PREFIX

if TYPE_CHECKING:
    from ccproxy.config.cli_view import CliView
    from ccproxy.config.models import Config

BASE_URL_VARS = ("ANTHROPIC_BASE_URL", "GOOGLE_GEMINI_BASE_URL")
OPENAI_URL_VARS = ("OPENAI_BASE_URL", "OPENAI_API_BASE")  # these two include /v1, as OpenAI SDKs expect
KEY_VARS = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY")
# Signals a user or supervisor sends to ccproxy that the command must get too.
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
# si_code of kernel-generated signals (Ctrl-C at the terminal): the command, in the same
# foreground process group, already got those; forwarding would deliver them twice.
SI_KERNEL = 0x80


def listener_url(view: CliView) -> str:
    """Where a client on this machine reaches the reverse listener (a wildcard bind is dialled on loopback)."""
    if view.host in ("0.0.0.0", "::", ""):
        return f"http://127.0.0.1:{view.port}"
    return daemon_url(view)


def run_env(base: Mapping[str, str], url: str, provider: str | None) -> dict[str, str]:
    env = dict(base)
    for var in BASE_URL_VARS:
        env[var] = url
    for var in OPENAI_URL_VARS:
        env[var] = url + "/v1"
    if provider:
        for var in KEY_VARS:
            env[var] = PREFIX + provider
    # A proxy configured for the user's shell must not swallow traffic meant for loopback.
    for var in ("NO_PROXY", "no_proxy"):
        parts = [p for p in env.get(var, "").split(",") if p]
        env[var] = ",".join([*parts, *(h for h in ("127.0.0.1", "localhost", "::1") if h not in parts)])
    return env


def run_child(cmd: Sequence[str], env: Mapping[str, str]) -> int:
    """Run the command, forward signals sent to us, return a shell-style exit code."""
    watched = {*FORWARDED, signal.SIGCHLD}
    # Blocked before the child exists, so no signal slips between spawn and the wait loop.
    old = signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    try:
        try:
            # The child must not inherit the blocked mask.
            proc = subprocess.Popen(list(cmd), env=dict(env), preexec_fn=_unblock_all)
        except FileNotFoundError:
            fail(f"command not found: {cmd[0]}", 127)
        except PermissionError:
            fail(f"command is not executable: {cmd[0]}", 126)
        while (rc := proc.poll()) is None:
            info = signal.sigtimedwait(watched, 0.5)
            if info is None or info.si_signo == signal.SIGCHLD or info.si_code == SI_KERNEL:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, info.si_signo)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    return 128 - rc if rc < 0 else rc


def _unblock_all() -> None:
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def daemon_running(url: str, headers: dict[str, str] | None = None) -> bool:
    try:
        return loopback.request(url, "GET", "/health", headers=headers, timeout=3.0).status_code == 200
    except loopback.ControlError:
        return False


def run_inspect(cmd: Sequence[str], config: Config, provider: str | None) -> int:
    for module in ("ccproxy.jail.inspect", "ccproxy.jail"):
        try:
            fn = getattr(importlib.import_module(module), "run_inspect", None)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise  # the jail is there but broken: that is a bug to see, not a missing feature
            fn = None
        if fn is None:
            continue
        if provider:
            # In the jail, traffic is captured transparently; only the keys need setting.
            keys = {var: PREFIX + provider for var in KEY_VARS}
            return int(fn(list(cmd), config, env={**os.environ, **keys}))
        return int(fn(list(cmd), config))
    fail("the namespace jail is not available in this build")


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--inspect", is_flag=True, help="Run CMD in the WireGuard namespace jail (transparent capture).")
@click.option(
    "--provider",
    "-p",
    metavar="NAME",
    help="Put the sentinel key sk-ant-oat-ccproxy-NAME in ANTHROPIC_API_KEY, OPENAI_API_KEY and GEMINI_API_KEY.",
)
@click.argument("cmd", nargs=-1, type=click.UNPROCESSED, required=True)
@click.pass_context
def run(ctx: click.Context, inspect: bool, provider: str | None, cmd: tuple[str, ...]) -> None:
    """Run CMD with its LLM traffic going through ccproxy.

    Sets ANTHROPIC_BASE_URL, OPENAI_BASE_URL, OPENAI_API_BASE and GOOGLE_GEMINI_BASE_URL to the
    listener; exits with CMD's exit code.
    """
    view = get_cli_view(ctx)  # validated whole, like `start` (tests/security/test_config_errors.py)
    if provider is not None and provider not in view.provider_names:
        known = ", ".join(sorted(view.provider_names)) or "none"
        fail(f"--provider {provider}: no such provider in the config (configured: {known})")
    if inspect:
        sys.exit(run_inspect(cmd, get_config(ctx), provider))
    url = listener_url(view)
    if not daemon_running(url, control_headers(view)):
        fail(f"ccproxy is not running at {url} (start it with `ccproxy start`)")
    sys.exit(run_child(cmd, run_env(os.environ, url, provider)))
