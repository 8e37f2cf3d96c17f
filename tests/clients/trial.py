"""Runs real CLI clients through the real daemon against the fake provider, inside the network
namespace this process was started in (`unshare --net` / `unshare -rn`: only loopback exists, so
nothing can reach a real API and every request the fake sees came through ccproxy).

    unshare -rn python -m tests.clients.trial SPEC.json RESULT.json

SPEC is `{"client": NAME, "prefix": CLIENTS_DIR, "work": DIR, "runs": [RUN_ID, ...]}`; RESULT is a
list of per-run results (exit code, output, what the daemon recorded, what the fake received).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccproxy.lightllm.ir import WIRES
from tests.support.daemon import DaemonProcess, provider_entry
from tests.support.fake_provider import FakeProvider

PROMPT = "say hello"
CLIENT_KEY = "sk-client-test-key"


@dataclass(frozen=True)
class Run:
    """One client invocation: `model` picks the route (see `rules`), `wire` is where it lands."""

    id: str
    model: str
    wire: str
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Client:
    name: str
    package: str
    wire: str  # the client's own format
    runs: tuple[Run, ...] = field(default=())


def _routes(own: str, own_model: str) -> tuple[Run, ...]:
    """The client in its own format, then routed to each of the other three."""
    return (Run(own, own_model, own), *(Run(f"to-{w}", f"to-{w}", w) for w in WIRES if w != own))


CLIENTS = {
    "claude": Client("claude", "@anthropic-ai/claude-code", "anthropic", _routes("anthropic", "claude-sonnet-4-5")),
    "codex": Client("codex", "@openai/codex", "openai_responses", _routes("openai_responses", "gpt-test")),
    "gemini": Client("gemini", "@google/gemini-cli", "gemini", _routes("gemini", "gemini-2.5-flash")),
    "aider": Client(
        "aider",
        "aider-chat",
        "openai",
        (*_routes("openai", "gpt-test"), Run("openai-plain", "gpt-test", "openai", ("--no-stream",))),
    ),
}


def rules() -> list[dict[str, Any]]:
    # The model name picks the upstream: "to-gemini" goes to the gemini provider, converted.
    return [
        {"match_model": f"^to-{w}$", "action": "transform", "dest_provider": w, "dest_model": f"{w}-model"}
        for w in WIRES
    ]


def binary(prefix: Path, client: str) -> Path:
    if client == "aider":
        return prefix / "aider" / "bin" / "aider"
    return prefix / "npm" / "node_modules" / ".bin" / client


def command(client: str, exe: Path, run: Run, url: str, home: Path) -> tuple[list[str], dict[str, str]]:
    """argv and environment of one run, as docs/clients.md describes each client offline."""
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NO_COLOR": "1", "TERM": "dumb"}
    if client == "claude":
        env |= {
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "ANTHROPIC_BASE_URL": url,
            "ANTHROPIC_API_KEY": CLIENT_KEY,
        }
        return [str(exe), "-p", PROMPT, "--model", run.model], env
    if client == "codex":
        (home / ".codex").mkdir(parents=True, exist_ok=True)
        (home / ".codex" / "config.toml").write_text(
            f'model = "{run.model}"\nmodel_provider = "ccproxy"\n\n[model_providers.ccproxy]\n'
            f'name = "ccproxy"\nbase_url = "{url}/v1"\nenv_key = "OPENAI_API_KEY"\nwire_api = "responses"\n'
        )
        env |= {"OPENAI_API_KEY": CLIENT_KEY}
        return [str(exe), "exec", "--skip-git-repo-check", PROMPT], env
    if client == "gemini":
        (home / ".gemini").mkdir(parents=True, exist_ok=True)
        settings = {
            "security": {"auth": {"selectedType": "gemini-api-key"}},
            "telemetry": {"enabled": False},
            "privacy": {"usageStatisticsEnabled": False},
        }
        (home / ".gemini" / "settings.json").write_text(json.dumps(settings))
        env |= {"GEMINI_API_KEY": CLIENT_KEY, "GOOGLE_GEMINI_BASE_URL": url, "GEMINI_CLI_TRUST_WORKSPACE": "true"}
        return [str(exe), "-m", run.model, "-p", PROMPT], env
    if client == "aider":
        env |= {"OPENAI_API_BASE": f"{url}/v1", "OPENAI_API_KEY": CLIENT_KEY}
        argv = [str(exe), "--model", f"openai/{run.model}", "--message", PROMPT, "--no-git", "--yes-always"]
        argv += ["--no-check-update", "--no-show-model-warnings", "--analytics-disable", "--no-pretty"]
        argv += ["--no-show-release-notes", "--no-fancy-input", *run.extra_args]
        return argv, env
    raise ValueError(f"unknown client {client!r}")


def _received(fake: FakeProvider, start: int) -> list[dict[str, Any]]:
    out = []
    for r in fake.received[start:]:
        try:
            body = r.json
        except ValueError:
            body = None
        out.append({"method": r.method, "path": r.path, "body": body})
    return out


def _text(output: bytes | str | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def main(spec_path: str, result_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    client = CLIENTS[spec["client"]]
    exe = binary(Path(spec["prefix"]), client.name)
    work = Path(spec["work"])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    fake = FakeProvider().start()
    providers = {w: provider_entry(fake.hostport, w) for w in WIRES}
    daemon = DaemonProcess(
        work / "daemon", {"ccproxy": {"providers": providers, "lightllm": {"transforms": rules()}}}
    ).start(timeout=120)
    results = []
    (work / "v").mkdir(parents=True, exist_ok=True)
    try:
        version = subprocess.run(
            [str(exe), "--version"],
            env=command(client.name, exe, client.runs[0], daemon.url, work / "v")[1],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        ).stdout.strip()
        for run in (r for r in client.runs if r.id in spec["runs"]):
            home = work / run.id / "home"
            cwd = work / run.id / "cwd"
            home.mkdir(parents=True)
            cwd.mkdir(parents=True)
            argv, env = command(client.name, exe, run, daemon.url, home)
            seen_flows = {f["id"] for f in daemon.flows()}
            seen_fake = len(fake.received)
            try:
                proc = subprocess.run(
                    argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL
                )
                code, out, err = proc.returncode, proc.stdout, proc.stderr
            except subprocess.TimeoutExpired as e:
                code, out, err = -1, _text(e.stdout), f"timed out after 240 s\n{_text(e.stderr)}"
            flows = [f for f in daemon.flows(bodies="1") if f["id"] not in seen_flows]
            results.append(
                {
                    "run": run.id,
                    "version": version,
                    "argv": [Path(argv[0]).name, *argv[1:]],
                    "exit": code,
                    "stdout": out[-4000:],
                    "stderr": err[-4000:],
                    "flows": flows,
                    "received": _received(fake, seen_fake),
                }
            )
    finally:
        daemon.stop()
        fake.stop()
    Path(result_path).write_text(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:3])
