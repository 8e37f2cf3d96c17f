"""The seeds' main example config (fixtures/seeds_main_config.yaml, verbatim) loads and serves
requests. Its hosts are pinned to a loopback TLS fake (inspector.resolve) whose throwaway CA is
trusted through inspector.upstream_ca, so TLS verification stays on.

Every hook it names must load, and the daemon serves it unchanged: a missing hook is a failure.
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
import yaml

from ccproxy.config.loader import parse_config
from ccproxy.pipeline.loader import HookConfigError, resolve
from tests.jail.support import make_ca
from tests.support.daemon import DaemonProcess, free_port, free_udp_port
from tests.support.fake_provider import FakeProvider

pytestmark = pytest.mark.timeout(120)

FIXTURE = Path(__file__).parent / "fixtures" / "seeds_main_config.yaml"
# Hooks whose home is another engineer's branch: allowed to be missing here, never anything else.
HOSTS = ("api.anthropic.com", "api.deepseek.com")


def seeds_config() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(FIXTURE.read_text())
    return data


def missing_hooks(config: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for stage in ("inbound", "outbound"):
        for path in config["ccproxy"]["hooks"][stage]:
            try:
                resolve(path)
            except HookConfigError as e:
                out[path] = str(e)
    return out


def test_every_hook_exists() -> None:
    missing = missing_hooks(seeds_config())
    assert not missing, f"hooks of the seeds' config that do not load: {missing}"


def test_hooks_order_without_a_cycle() -> None:
    """The seeds' hook lists form a DAG (a cycle is a startup error naming the hooks)."""
    from ccproxy.config.models import Hooks
    from ccproxy.pipeline import build_pipelines

    config = seeds_config()
    missing = missing_hooks(config)
    hooks = {k: [h for h in v if h not in missing] for k, v in config["ccproxy"]["hooks"].items()}
    pipes = build_pipelines(Hooks.model_validate(hooks))
    assert [h.name for h in pipes["inbound"].hooks] == ["inject_auth", "extract_session_id"]
    assert "gemini_cli" in [h.name for h in pipes["outbound"].hooks]


def test_config_validates(tmp_path: Path) -> None:
    config = parse_config(seeds_config(), tmp_path)
    c = config.ccproxy
    assert set(c.providers) == {"anthropic", "deepseek"}
    assert c.providers["deepseek"].base_path == "/anthropic/v1/messages"
    assert [r.dest_model for r in c.transform_rules] == ["claude-haiku-4-5-20251001"]


@pytest.fixture(scope="module")
def tls_fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeProvider, Path]]:
    root = tmp_path_factory.mktemp("seeds-ca")
    ca = make_ca(root, list(HOSTS))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ca.cert_pem, ca.key_pem)
    server = FakeProvider(ssl_context=ctx).start()
    yield server, ca.ca_pem
    server.stop()


@pytest.fixture(scope="module")
def seeds_daemon(
    tls_fake: tuple[FakeProvider, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DaemonProcess]:
    fake, ca_pem = tls_fake
    home = tmp_path_factory.mktemp("home")
    (home / ".claude").mkdir()
    (home / ".claude" / ".credentials.json").write_text(json.dumps({"claudeAiOauth": {"accessToken": "sk-ant-real"}}))
    config = seeds_config()
    c = config["ccproxy"]
    missing = missing_hooks(config)
    c["hooks"]["outbound"] = [h for h in c["hooks"]["outbound"] if h not in missing]
    # the only additions: a free port instead of 4000, and the fake standing in for the hosts
    c["port"] = free_port()
    c["inspector"].update(
        resolve={h: fake.hostport for h in HOSTS},
        upstream_ca=str(ca_pem),
        wireguard_port=free_udp_port(4),
    )
    env = {"HOME": str(home), "DEEPSEEK_API_KEY": "ds-real-key", "PATH": os.environ.get("PATH", "")}
    d = DaemonProcess(tmp_path_factory.mktemp("seeds-daemon"), config, env=env)
    d.start()
    yield d
    d.stop()


def test_sentinel_routes_to_anthropic_and_deepseek(seeds_daemon: DaemonProcess, tls_fake: tuple[Any, Path]) -> None:
    fake, _ = tls_fake
    for name, key, path in (
        ("anthropic", "sk-ant-real", "/v1/messages"),
        ("deepseek", "ds-real-key", "/anthropic/v1/messages"),
    ):
        client = anthropic.Anthropic(api_key=f"sk-ant-oat-ccproxy-{name}", base_url=seeds_daemon.url)
        msg = client.messages.create(model="m", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
        assert msg.content[0].type == "text" and msg.content[0].text == "Hello from the fake provider."
        got = fake.last()
        assert got.path == path
        assert got.headers["x-api-key"] == key
        assert got.headers["host"] == f"api.{name}.com"


def test_gpt4o_rule_transforms_to_anthropic(seeds_daemon: DaemonProcess, tls_fake: tuple[Any, Path]) -> None:
    fake, _ = tls_fake
    client = openai.OpenAI(api_key="client-own-key", base_url=seeds_daemon.url + "/v1")
    out = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert out.choices[0].message.content == "Hello from the fake provider."
    got = fake.last()
    assert got.path == "/v1/messages"
    assert got.json["model"] == "claude-haiku-4-5-20251001"
    assert got.headers["x-api-key"] == "sk-ant-real"


def test_missing_hooks_are_reported(seeds_daemon: DaemonProcess) -> None:
    """The daemon ran the config minus exactly the hooks of other branches; say which."""
    assert missing_hooks(seeds_config()) == {}
