"""Side-by-side per-request cost: direct, plain mitmdump (streaming) and ccproxy, one run.

    .venv/bin/python bench/hotpath.py [--seconds 8] [--conns 1,16,64] [--rounds 2] [--ttfb 300]
    .venv/bin/python bench/hotpath.py --profile 20      # py-spy top of the daemon under c=1 load

A small asyncio fake upstream (uvloop when installed) answers an OpenAI chat completion, or an
SSE stream whose events are 2 ms apart. The fake and the load generator (Debian's `wrk`) share
CPU 0; each proxy runs alone on CPU 1 (taskset). Subjects alternate order each round. Prints
requests/s, latency p50/p99 and the ratio to mitmdump, then stream time-to-first-byte added.
Not a test: nothing is asserted. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

JSON_ANSWER = json.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-test",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }
).encode()
REQUEST = json.dumps({"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]})
ANTHROPIC_REQUEST = json.dumps(
    {"model": "claude-test", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
)


def sse_events() -> list[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        body = {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-test",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    return [chunk({"role": "assistant", "content": ""}), chunk({"content": "hel"}), chunk({"content": "lo"}),
            chunk({}, "stop"), b"data: [DONE]\n\n"]  # fmt: skip


# ---- the fake upstream (runs in its own process) -------------------------------------------


class _FakeProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buf[:head_end].decode("latin-1")
            m = re.search(r"(?im)^content-length:\s*(\d+)", head)
            length = int(m.group(1)) if m else 0
            if len(self.buf) < head_end + 4 + length:
                return
            body = self.buf[head_end + 4 : head_end + 4 + length]
            self.buf = self.buf[head_end + 4 + length :]
            if b'"stream": true' in body or b'"stream":true' in body:
                asyncio.get_running_loop().create_task(self._stream())
            else:
                assert self.transport is not None
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                    % (len(JSON_ANSWER), JSON_ANSWER)
                )

    async def _stream(self) -> None:
        t = self.transport
        assert t is not None
        t.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        for i, ev in enumerate(sse_events()):
            if i:
                await asyncio.sleep(0.002)  # events spaced 2 ms apart
            t.write(b"%x\r\n%s\r\n" % (len(ev), ev))
        t.write(b"0\r\n\r\n")


def serve_fake(port: int) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_FakeProtocol, "127.0.0.1", port, backlog=1024)
        await server.serve_forever()

    asyncio.run(main())


# ---- subjects ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cpu: int, argv: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(cpu), *argv]
    return argv


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"subject exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} not open after {timeout}s")


class Subject:
    def __init__(self, name: str, argv: list[str], port: int, path: str, body: str, env: dict[str, str] | None = None):
        self.name, self.argv, self.port, self.path, self.body = name, argv, port, path, body
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.argv:
            self.proc = subprocess.Popen(
                pinned(1, self.argv), env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            wait_port(self.port, self.proc)
            time.sleep(0.3)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def ccproxy_subject(
    name: str, fake_port: int, tmp: Path, extra: dict[str, Any], path: str, body: str, src: Path = ROOT / "src"
) -> Subject:
    cfg_dir = tmp / name
    cfg_dir.mkdir(parents=True)
    port = free_port()
    section: dict[str, Any] = {
        "port": port,
        "providers": {
            "openai": {"type": "openai", "host": f"127.0.0.1:{fake_port}", "scheme": "http"},
            "anthropic": {"type": "anthropic", "host": f"127.0.0.1:{fake_port}", "scheme": "http"},
        },
        "mcp": {"port": free_port()},
        "inspector": {"wireguard_port": free_port()},
        **extra,
    }
    (cfg_dir / "ccproxy.yaml").write_text(yaml.safe_dump({"ccproxy": section}))
    env = {**os.environ, "CCPROXY_CONFIG_DIR": str(cfg_dir), "PYTHONPATH": str(src)}
    env.pop("LOG_LEVEL", None)
    return Subject(name, [PY, "-m", "ccproxy", "start"], port, path, body, env)


def mitmdump_argv(mitmdump: str, fake_port: int, port: int, tmp: Path) -> list[str]:
    mode = f"reverse:http://127.0.0.1:{fake_port}@127.0.0.1:{port}"
    return [mitmdump, "-q", "--mode", mode, "--set", "stream_large_bodies=1", "--set", f"confdir={tmp / 'mitm'}"]


WRK_LUA = """
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer sk-test"
wrk.headers["x-api-key"] = "sk-test"
wrk.headers["anthropic-version"] = "2023-06-01"
wrk.body = os.getenv("BENCH_BODY")
"""


def _ms(v: str) -> float:
    num = float(re.match(r"[\d.]+", v).group(0))  # type: ignore[union-attr]
    return num / 1000 if v.endswith("us") else num * 1000 if v.endswith("s") and not v.endswith("ms") else num


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its threads (robust where other work shares the cores)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(subject: Subject, conns: int, seconds: float, lua: Path) -> dict[str, float]:
    pid = subject.proc.pid if subject.proc is not None else None
    cpu0 = cpu_seconds(pid) if pid else 0.0
    url = f"http://127.0.0.1:{subject.port}{subject.path}"
    argv = ["wrk", "-t1", f"-c{conns}", f"-d{max(1, round(seconds))}s", "--latency", "-s", str(lua), url]
    out = subprocess.run(
        pinned(0, argv), capture_output=True, text=True, env={**os.environ, "BENCH_BODY": subject.body}, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    pct = {p: _ms(v) for p, v in re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    count = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    cpu_ms = (cpu_seconds(pid) - cpu0) * 1000 / count if pid and count else 0.0
    return {
        "cpu_ms": cpu_ms,
        "rps": rps,
        "p50": pct.get("50", 0.0),
        "p99": pct.get("99", 0.0),
        "bad": float(errors.group(1)) if errors else 0.0,
    }


def ttfb(port: int, path: str, body: str, n: int) -> float:
    """Median seconds from sending a streaming request to the first SSE event on a kept-alive connection."""
    payload = json.loads(body)
    payload["stream"] = True
    raw = json.dumps(payload).encode()
    req = (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer sk-test\r\nx-api-key: sk-test\r\nanthropic-version: 2023-06-01\r\n"
        f"content-length: {len(raw)}\r\n\r\n"
    ).encode() + raw
    out = []
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(n):
            t = time.perf_counter()
            s.sendall(req)
            buf = b""
            first = None
            while not buf.endswith(b"0\r\n\r\n"):
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError("connection closed mid-stream")
                buf += chunk
                if first is None and b"data:" in buf:
                    first = time.perf_counter() - t
            out.append(first or 0.0)
    return statistics.median(out)


def uptime() -> str:
    try:
        return "load " + " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "load ?"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--conns", default="1,16,64")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--ttfb", type=int, default=300, help="streams per subject for time-to-first-byte (0: skip)")
    ap.add_argument("--subjects", default="mitmdump,ccproxy", help="direct,mitmdump,ccproxy,baseline,nostore,transform")
    ap.add_argument("--baseline-src", type=Path, help="subject `baseline`: ccproxy from this src/ directory")
    ap.add_argument("--profile", type=float, default=0, help="py-spy the ccproxy daemon this many seconds under c=1")
    ap.add_argument("--serve-fake", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_fake:
        serve_fake(args.serve_fake)
        return
    if not shutil.which("wrk"):
        sys.exit("bench/hotpath.py: wrk not found (Debian package `wrk`: apt-get install wrk)")
    mitmdump = shutil.which("mitmdump", path=str(Path(PY).parent)) or shutil.which("mitmdump")
    if not mitmdump:
        sys.exit("bench/hotpath.py: mitmdump not found (PyPI package `mitmproxy`)")

    tmp = Path(tempfile.mkdtemp(prefix="ccproxy-hotpath-"))
    lua = tmp / "post.lua"
    lua.write_text(WRK_LUA)
    fake_port = free_port()
    fake = subprocess.Popen(pinned(0, [PY, __file__, "--serve-fake", str(fake_port)]))
    wait_port(fake_port, fake)
    md_port = free_port()
    chat = "/v1/chat/completions"
    all_subjects = {
        "direct": Subject("direct", [], fake_port, chat, REQUEST),
        "mitmdump": Subject("mitmdump", mitmdump_argv(mitmdump, fake_port, md_port, tmp), md_port, chat, REQUEST),
        "ccproxy": ccproxy_subject("ccproxy", fake_port, tmp, {}, chat, REQUEST),
        "baseline": ccproxy_subject(
            "baseline", fake_port, tmp, {}, chat, REQUEST, src=(args.baseline_src or ROOT / "src").resolve()
        ),
        "nostore": ccproxy_subject("nostore", fake_port, tmp, {"flows": {"persist": False}}, chat, REQUEST),
        "transform": ccproxy_subject(
            "transform",
            fake_port,
            tmp,
            {
                "lightllm": {
                    "transforms": [{"match_path": "^/v1/messages", "action": "transform", "dest_provider": "openai"}]
                }
            },
            "/v1/messages",
            ANTHROPIC_REQUEST,
        ),
    }
    names = [n.strip() for n in args.subjects.split(",") if n.strip()]
    subjects = [all_subjects[n] for n in names]
    conns = [int(c) for c in args.conns.split(",")]
    try:
        if args.profile:
            profile(all_subjects["ccproxy"], args.profile, lua)
            return
        results: dict[tuple[str, int], list[dict[str, float]]] = {}
        ttfbs: dict[str, list[float]] = {}
        for r in range(args.rounds):
            order = subjects if r % 2 == 0 else list(reversed(subjects))
            for s in order:
                s.start()
                try:
                    run_wrk(s, 4, 1.0, lua)  # warm-up
                    for c in conns:
                        results.setdefault((s.name, c), []).append(run_wrk(s, c, args.seconds, lua))
                    if args.ttfb and s.name != "transform":
                        ttfbs.setdefault(s.name, []).append(ttfb(s.port, s.path, s.body, args.ttfb))
                finally:
                    s.stop()
        print(f"# hotpath bench, {args.rounds} round(s) x {args.seconds:g}s, {uptime()} at the end")
        print(
            "| subject | conns | req/s | p50 ms | p99 ms | req/s ÷ mitmdump | ms/req added (c=1)"
            " | proxy CPU ms/req | CPU ÷ mitmdump |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for c in conns:
            base = results.get(("mitmdump", c))
            base_rps = statistics.median(x["rps"] for x in base) if base else None
            base_cpu = statistics.median(x["cpu_ms"] for x in base) if base else None
            for s in subjects:
                rows = results[(s.name, c)]
                rps = statistics.median(x["rps"] for x in rows)
                p50 = statistics.median(x["p50"] for x in rows)
                p99 = statistics.median(x["p99"] for x in rows)
                ratio = f"{rps / base_rps:.2f}" if base_rps else "-"
                added = f"{(1000 / rps - 1000 / base_rps):+.3f}" if base_rps and c == 1 else ""
                bad = sum(x["bad"] for x in rows)
                cpu = statistics.median(x["cpu_ms"] for x in rows)
                cpu_ratio = f"{cpu / base_cpu:.2f}" if base_cpu and cpu else "-"
                print(
                    f"| {s.name} | {c} | {rps:.0f} | {p50:.2f} | {p99:.2f} | {ratio} | {added}"
                    f" | {cpu:.3f} | {cpu_ratio} |" + (f" {bad:.0f} non-2xx" if bad else "")
                )
        if ttfbs:
            base_t = statistics.median(ttfbs["mitmdump"]) if "mitmdump" in ttfbs else None
            print("\n| subject | stream TTFB ms (median) | added over mitmdump ms |\n|---|---|---|")
            for name, vals in ttfbs.items():
                t = statistics.median(vals)
                added = f"{(t - base_t) * 1000:+.3f}" if base_t is not None else "-"
                print(f"| {name} | {t * 1000:.3f} | {added} |")
    finally:
        for s in subjects:
            s.stop()
        fake.terminate()
        fake.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def profile(subject: Subject, seconds: float, lua: Path) -> None:
    spy = shutil.which("py-spy", path=str(Path(PY).parent)) or shutil.which("py-spy")
    if not spy:
        sys.exit("bench/hotpath.py: py-spy not found (PyPI package `py-spy`: uv pip install py-spy)")
    subject.start()
    try:
        assert subject.proc is not None
        run_wrk(subject, 1, 1.0, lua)
        out = Path(tempfile.gettempdir()) / "ccproxy-hotpath.txt"
        argv = [spy, "record", "-p", str(subject.proc.pid), "-d", str(int(seconds)), "-f", "raw", "-o", str(out)]
        argv += ["-r", "500", *(["--gil"] if os.environ.get("BENCH_GIL") else [])]  # --gil: only GIL holders
        spy_proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        print(run_wrk(subject, 1, seconds - 2, lua))
        spy_proc.wait()
        print(f"collapsed stacks: {out}")
    finally:
        subject.stop()


if __name__ == "__main__":
    main()
