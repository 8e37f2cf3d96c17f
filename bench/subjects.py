"""The harness's workloads and the subjects it measures side by side: direct to the fake,
plain mitmdump (buffered, and streaming), the ccproxy daemon, and LiteLLM's proxy.

Every subject listens on 127.0.0.1 and talks only to the fake upstream on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from tests.support.daemon import DaemonProcess, free_port, provider_entry

from bench.fake_upstream import EVENT_GAP_ENV
from bench.load import Request

REPO = Path(__file__).resolve().parents[1]
PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}
CLIENT_KEY = "sk-bench-client"
CANNED_MODEL = {"openai": "gpt-test", "anthropic": "claude-test"}


@dataclass(frozen=True)
class Workload:
    key: str
    client: str  # the wire format the client speaks
    upstream: str  # the wire format the fake answers in
    stream: bool

    @property
    def transform(self) -> bool:
        return self.client != self.upstream

    @property
    def label(self) -> str:
        kind = "SSE" if self.stream else "JSON"
        if self.transform:
            return f"{self.client} client → {self.upstream} upstream, {kind}"
        return f"{self.client} passthrough, {kind}"


WORKLOADS = [
    Workload("openai-json", "openai", "openai", False),
    Workload("anthropic-sse", "anthropic", "anthropic", True),
    Workload("openai-to-anthropic-json", "openai", "anthropic", False),
    Workload("anthropic-to-openai-json", "anthropic", "openai", False),
    Workload("openai-to-anthropic-sse", "openai", "anthropic", True),
    Workload("anthropic-to-openai-sse", "anthropic", "openai", True),
]


def request(client: str, model: str, stream: bool) -> Request:
    messages = [{"role": "user", "content": "Say hello."}]
    body: dict[str, object] = {"model": model, "max_tokens": 64, "messages": messages, "stream": stream}
    if client == "openai":
        headers = (("authorization", f"Bearer {CLIENT_KEY}"),)
    else:
        headers = (("x-api-key", CLIENT_KEY), ("anthropic-version", "2023-06-01"))
    return Request(PATHS[client], json.dumps(body).encode(), headers)


def workload_request(w: Workload) -> Request:
    """What a client of the workload sends to a proxy: a transform is selected by the model name."""
    model = f"to-{w.upstream}" if w.transform else CANNED_MODEL[w.client]
    return request(w.client, model, w.stream)


def pinned(cpu: int | None, argv: list[str]) -> list[str]:
    if cpu is None:
        return argv
    return ["taskset", "-c", str(cpu), *argv]


def wait_http(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float = 180) -> None:
    """Until `url` answers; a process that does not come up is stopped, never left behind."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1, trust_env=False)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    _terminate(proc)
    raise RuntimeError(f"{what} not ready after {timeout:.0f}s")


class Fake:
    """The fake upstream: uvicorn workers serving bench.fake_upstream:app."""

    def __init__(self, cpu: int | None, workers: int, log: Path, event_gap: float | None = None) -> None:
        self.port = free_port()
        env = dict(os.environ)
        if event_gap is not None:
            env[EVENT_GAP_ENV] = repr(event_gap)
        argv = [sys.executable, "-m", "uvicorn", "--app-dir", str(REPO), "bench.fake_upstream:app"]
        argv += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers)]
        argv += ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
        with log.open("ab") as err:
            self.proc = subprocess.Popen(pinned(cpu, argv), stdout=err, stderr=subprocess.STDOUT, cwd=REPO, env=env)
        wait_http(f"http://127.0.0.1:{self.port}/health", self.proc, "fake upstream (uvicorn)")

    @property
    def hostport(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        _terminate(self.proc)


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Subject:
    name = ""
    port = 0

    def pid(self) -> int:
        raise NotImplementedError

    def supports(self, w: Workload) -> bool:
        return True

    def request(self, w: Workload) -> Request:
        return workload_request(w)

    def stop(self) -> None:
        raise NotImplementedError


class Direct(Subject):
    """The client talks to the fake itself: the limit. For a transform workload it sends the
    upstream's own format (what the upstream costs without any proxy)."""

    name = "direct"

    def __init__(self, fake: Fake) -> None:
        self.fake, self.port = fake, fake.port

    def pid(self) -> int:
        return self.fake.proc.pid

    def request(self, w: Workload) -> Request:
        return request(w.upstream, CANNED_MODEL[w.upstream], w.stream)

    def stop(self) -> None:
        pass


class Mitmdump(Subject):
    """Plain mitmdump in reverse mode: buffered, or streaming every body (stream_large_bodies=1)."""

    def __init__(self, fake: Fake, cpu: int | None, streaming: bool, log: Path) -> None:
        self.name = "mitmdump (streaming)" if streaming else "mitmdump (buffered)"
        self.port = free_port()
        exe = str(Path(sys.executable).with_name("mitmdump"))
        argv = [exe, "--mode", f"reverse:http://{fake.hostport}/", "--listen-host", "127.0.0.1"]
        argv += ["--listen-port", str(self.port), "-q", "--set", "termlog_verbosity=error"]
        if streaming:
            argv += ["--set", "stream_large_bodies=1"]
        with log.open("ab") as err:
            self.proc = subprocess.Popen(pinned(cpu, argv), stdout=err, stderr=subprocess.STDOUT)
        wait_http(f"http://127.0.0.1:{self.port}/health", self.proc, self.name)

    def supports(self, w: Workload) -> bool:
        return not w.transform

    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        _terminate(self.proc)


def ccproxy_config(fake: Fake) -> dict[str, object]:
    """Defaults (hooks, store, inspector), providers at the fake, and one transform rule per
    upstream: a client asking for model `to-<wire>` is converted to that wire."""
    rules = [
        {"match_model": f"^to-{w}$", "action": "transform", "dest_provider": w, "dest_model": CANNED_MODEL[w]}
        for w in PATHS
    ]
    providers = {w: provider_entry(fake.hostport, w) for w in PATHS}
    return {"ccproxy": {"providers": providers, "lightllm": {"transforms": rules}}}


class Ccproxy(Subject):
    name = "ccproxy"

    def __init__(self, fake: Fake, cpu: int | None, workdir: Path) -> None:
        wrap = ["taskset", "-c", str(cpu)] if cpu is not None else []
        self.daemon = DaemonProcess(workdir / "ccproxy", ccproxy_config(fake), wrap=wrap)
        self.daemon.start()
        self.port = self.daemon.port

    def pid(self) -> int:
        assert self.daemon.proc is not None
        return self.daemon.proc.pid

    def stop(self) -> None:
        self.daemon.stop()


LITELLM_ENV = {
    # No network: the model cost map ships with the package; telemetry is off.
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_TELEMETRY": "False",
    "LITELLM_TELEMETRY_DISABLED": "true",
    "LITELLM_LOG": "ERROR",
    "DISABLE_SCHEMA_UPDATE": "true",
    "NO_DOCS": "True",
}


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ccproxy-bench"


def litellm_exe() -> Path:
    return cache_dir() / "litellm-venv" / "bin" / "litellm"


def install_litellm() -> str | None:
    """Installs litellm[proxy] into the bench's own venv once. Returns None, or why it is missing."""
    if litellm_exe().exists():
        return None
    uv = shutil.which("uv") or str(Path.home() / ".local/bin/uv")
    venv = cache_dir() / "litellm-venv"
    venv.parent.mkdir(parents=True, exist_ok=True)
    base = getattr(sys, "_base_executable", sys.executable)
    steps = [[uv, "venv", "-q", "--python", base, str(venv)]]
    steps.append([uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "litellm[proxy]"])
    for argv in steps:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"LiteLLM skipped: installing litellm[proxy] failed ({e})"
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["?"])[-1]
            return f"LiteLLM skipped: 'uv pip install litellm[proxy]' failed (PyPI unreachable?): {last}"
    return None


class Litellm(Subject):
    """LiteLLM's proxy with an equivalent config: one model entry per route, api_base at the
    fake, no database, no master key, telemetry off."""

    name = "LiteLLM proxy"

    def __init__(self, fake: Fake, cpu: int | None, workdir: Path, log: Path) -> None:
        base = {"openai": f"http://{fake.hostport}/v1", "anthropic": f"http://{fake.hostport}"}
        models = [(CANNED_MODEL[w], w, CANNED_MODEL[w]) for w in PATHS]
        models += [(f"to-{w}", w, CANNED_MODEL[w]) for w in PATHS]
        config = {
            "model_list": [
                {
                    "model_name": name,
                    "litellm_params": {"model": f"{wire}/{model}", "api_base": base[wire], "api_key": "sk-bench"},
                }
                for name, wire, model in models
            ],
            "litellm_settings": {
                "telemetry": False,
                "drop_params": True,
                "set_verbose": False,
                # Anthropic clients to an OpenAI model: Chat Completions, as the fake (and ccproxy) speak
                "use_chat_completions_url_for_anthropic_messages": True,
            },
            # The clients' own key; LiteLLM refuses to start without one. No database: key checks
            # are a comparison with it.
            "general_settings": {"master_key": CLIENT_KEY},
        }
        workdir.mkdir(parents=True, exist_ok=True)
        cfg = workdir / "litellm.yaml"
        cfg.write_text(yaml.safe_dump(config))
        self.port = free_port()
        argv = [str(litellm_exe()), "--config", str(cfg), "--host", "127.0.0.1", "--port", str(self.port)]
        argv += ["--num_workers", "1"]
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env.update(LITELLM_ENV)
        with log.open("ab") as err:
            self.proc = subprocess.Popen(pinned(cpu, argv), stdout=err, stderr=subprocess.STDOUT, env=env, cwd=workdir)
        wait_http(f"http://127.0.0.1:{self.port}/health/liveliness", self.proc, self.name)

    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        _terminate(self.proc)
