"""Pure parts of the jail and the resolve addon: no namespaces needed."""

from __future__ import annotations

import ipaddress
import json
import logging
import stat
from pathlib import Path

import mitmproxy_rs
import pytest
from mitmproxy import dns
from mitmproxy.proxy import mode_specs
from mitmproxy.proxy.server_hooks import ServerConnectionHookData
from mitmproxy.test import tflow

from ccproxy.addons.resolve import ResolveOverrides
from ccproxy.config.resolve import SYNTHETIC_NET, parse_resolve, parse_target
from ccproxy.jail.cabundle import CA_ENV_VARS, bundle_text, child_env
from ccproxy.jail.keys import key_path, load_or_create_keys, parse_keys
from ccproxy.jail.mode import RedactPrivateKeys, wg_keylog_text, wireguard_mode_spec
from ccproxy.jail.preflight import PreflightError, check_platform, install_hint, preflight
from ccproxy.jail.system import Status, diagnose
from ccproxy.jail.wgconf import client_config, setconf_text

# -- inspector.resolve -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", None)),
        ("127.0.0.1:8443", ("127.0.0.1", 8443)),
        ("localhost:1", ("localhost", 1)),
        ("[::1]", ("::1", None)),
        ("[::1]:443", ("::1", 443)),
        ("::1", ("::1", None)),
    ],
)
def test_parse_target(value: str, expected: tuple[str, int | None]) -> None:
    assert parse_target(value, "k") == expected


@pytest.mark.parametrize(
    ("mapping", "error"),
    [
        ({"a.example": "127.0.0.1:99999"}, "inspector.resolve.a.example: invalid port '99999'"),
        ({"a.example": "127.0.0.1:x"}, "inspector.resolve.a.example: invalid port 'x'"),
        ({"a.example": ":443"}, "inspector.resolve.a.example: empty address"),
        ({"a.example": "[::1]x"}, "inspector.resolve.a.example: invalid address"),
        ({"a.example": 5}, "inspector.resolve.a.example: expected a string"),
        ({"": "127.0.0.1"}, "inspector.resolve: empty host name"),
    ],
)
def test_parse_resolve_errors_name_the_key(mapping: dict, error: str) -> None:
    with pytest.raises(ValueError, match="^" + error.replace("[", r"\[").replace("]", r"\]")):
        parse_resolve(mapping)


def test_synthetic_addresses_are_stable_distinct_and_unrouted() -> None:
    o = parse_resolve({"A.example.": "127.0.0.1:1", "b.example": "127.0.0.1:2"})
    assert set(o) == {"a.example", "b.example"}
    addrs = [ipaddress.ip_address(x.synthetic) for x in o.values()]
    assert len(set(addrs)) == 2 and all(a in SYNTHETIC_NET for a in addrs)
    assert parse_resolve({"A.example.": "x", "b.example": "y"})["a.example"].synthetic == o["a.example"].synthetic


def dns_flow(name: str, qtype: int) -> dns.DNSFlow:
    f = tflow.tdnsflow()
    f.response = None
    f.request.questions = [dns.Question(name=name, type=qtype, class_=dns.classes.IN)]
    return f


def test_dns_answers_pinned_names_with_the_synthetic_address() -> None:
    addon = ResolveOverrides({"api.anthropic.com": "127.0.0.1:8443"})
    f = dns_flow("api.anthropic.com", dns.types.A)
    addon.dns_request(f)
    assert f.response is not None
    [answer] = f.response.answers
    assert str(answer.ipv4_address) == addon.by_host["api.anthropic.com"].synthetic


@pytest.mark.parametrize("qtype", [dns.types.AAAA, dns.types.HTTPS])
def test_dns_other_types_for_pinned_names_are_answered_empty(qtype: int) -> None:
    addon = ResolveOverrides({"api.anthropic.com": "127.0.0.1"})
    f = dns_flow("api.anthropic.com", qtype)
    addon.dns_request(f)
    assert f.response is not None and f.response.answers == []


def test_dns_leaves_other_names_to_the_resolver() -> None:
    addon = ResolveOverrides({"api.anthropic.com": "127.0.0.1"})
    f = dns_flow("example.org", dns.types.A)
    addon.dns_request(f)
    assert f.response is None


@pytest.mark.parametrize(
    ("address", "sni", "expected"),
    [
        (("198.18.0.1", 443), "api.anthropic.com", ("127.0.0.1", 8443)),  # jail: synthetic address
        (("api.anthropic.com", 443), None, ("127.0.0.1", 8443)),  # reverse listener: by name
        (("10.1.2.3", 443), "API.anthropic.com", ("127.0.0.1", 8443)),  # by SNI
        (("api.openai.com", 443), "api.openai.com", ("api.openai.com", 443)),  # not pinned
    ],
)
def test_server_connect_rewrites_pinned_upstreams(
    address: tuple[str, int], sni: str | None, expected: tuple[str, int]
) -> None:
    addon = ResolveOverrides({"api.anthropic.com": "127.0.0.1:8443"})
    f = tflow.tflow()
    f.server_conn.address = address
    f.server_conn.sni = sni
    addon.server_connect(ServerConnectionHookData(server=f.server_conn, client=f.client_conn))
    assert f.server_conn.address == expected


def test_port_is_kept_when_the_override_has_none() -> None:
    addon = ResolveOverrides({"api.anthropic.com": "127.0.0.2"})
    f = tflow.tflow()
    f.server_conn.address = ("api.anthropic.com", 8080)
    addon.server_connect(ServerConnectionHookData(server=f.server_conn, client=f.client_conn))
    assert f.server_conn.address == ("127.0.0.2", 8080)


def test_wireguard_flows_are_marked_and_get_a_host() -> None:
    addon = ResolveOverrides({})
    f = tflow.tflow()
    f.client_conn.proxy_mode = mode_specs.ProxyMode.parse("wireguard")
    f.client_conn.sni = "api.anthropic.com"
    f.request.host = "198.18.0.1"
    assert f.request.host_header is None and f.request.pretty_host == "198.18.0.1"
    addon.requestheaders(f)
    assert f.metadata["ccproxy.listener"] == "wireguard"
    assert f.request.pretty_host == "api.anthropic.com"


def test_reverse_flows_are_marked_reverse() -> None:
    f = tflow.tflow()
    f.client_conn.proxy_mode = mode_specs.ProxyMode.parse("reverse:https://api.anthropic.com")
    ResolveOverrides({}).requestheaders(f)
    assert f.metadata["ccproxy.listener"] == "reverse"


# -- keys, configs, mode spec --------------------------------------------------------------------


def test_key_file_is_private_json_in_mitmproxys_format(tmp_path: Path) -> None:
    keys = load_or_create_keys(tmp_path)
    path = key_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert set(data) == {"server_key", "client_key"}
    # What mitmproxy's WireGuardServerInstance does with the file.
    assert mitmproxy_rs.wireguard.pubkey(data["client_key"]) == keys.client_public
    assert load_or_create_keys(tmp_path) == keys  # persisted, not regenerated


def test_loose_key_file_permissions_are_tightened(tmp_path: Path) -> None:
    load_or_create_keys(tmp_path)
    key_path(tmp_path).chmod(0o644)
    load_or_create_keys(tmp_path)
    assert stat.S_IMODE(key_path(tmp_path).stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("not json", "JSONDecodeError"),
        ("{}", "KeyError"),
        ('{"server_key": "x", "client_key": "y"}', "Error"),
    ],
)
def test_bad_key_file_is_one_clear_error(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=rf"^/k/wireguard.conf: invalid WireGuard key file \(.*{error}"):
        parse_keys(text, "/k/wireguard.conf")


def test_mode_spec_parses_as_mitmproxy_wireguard_mode(tmp_path: Path) -> None:
    spec = wireguard_mode_spec(tmp_path / "st:ate", "127.0.0.1", 51999)
    mode = mode_specs.ProxyMode.parse(spec)
    assert isinstance(mode, mode_specs.WireGuardMode)
    assert mode.data == str(tmp_path / "st:ate" / "wireguard.conf")
    assert (mode.listen_host(), mode.listen_port()) == ("127.0.0.1", 51999)
    assert Path(mode.data).exists()


def test_client_configs(tmp_path: Path) -> None:
    keys = load_or_create_keys(tmp_path)
    full = client_config(keys, "127.0.0.1", 51820)
    assert f"PrivateKey = {keys.client_key}" in full
    assert f"PublicKey = {keys.server_public}" in full
    assert "Endpoint = 127.0.0.1:51820" in full and "DNS = 10.0.0.53" in full
    wg = setconf_text(keys, 51820)
    # `wg setconf` rejects wg-quick keys.
    assert "Address" not in wg and "DNS" not in wg and "MTU" not in wg
    assert "Endpoint = 10.0.2.2:51820" in wg


def test_wg_keylog_lines(tmp_path: Path) -> None:
    keys = load_or_create_keys(tmp_path)
    lines = wg_keylog_text(keys).splitlines()
    assert lines[0] == f"LOCAL_STATIC_PRIVATE_KEY = {keys.server_key}"
    assert all(line.split(" = ")[0] in {"LOCAL_STATIC_PRIVATE_KEY", "REMOTE_STATIC_PUBLIC_KEY"} for line in lines)


def test_private_keys_are_redacted_from_mitmproxy_logs() -> None:
    record = logging.LogRecord("m", logging.INFO, "", 0, "[Interface]\nPrivateKey = %s\n", ("abc+/=",), None)
    assert RedactPrivateKeys().filter(record)
    assert "abc+/=" not in record.getMessage() and "PrivateKey = (redacted)" in record.getMessage()


# -- environment, preflight, status ------------------------------------------------------------


@pytest.mark.parametrize("var", ["http_proxy", "HTTPS_PROXY", "ALL_PROXY", "no_proxy", "NO_PROXY", "grpc_proxy"])
def test_proxy_variables_never_reach_the_child(var: str) -> None:
    env = child_env({var: "http://127.0.0.1:9", "PATH": "/bin"}, Path("/run/ccproxy/ca-bundle.pem"))
    assert var not in env and env["PATH"] == "/bin"
    assert all(env[v] == "/run/ccproxy/ca-bundle.pem" for v in CA_ENV_VARS)


def test_bundle_appends_the_mitmproxy_ca() -> None:
    text = bundle_text("-----BEGIN CERTIFICATE-----\nM\n-----END CERTIFICATE-----\n", "SYS\n")
    assert text.startswith("SYS\n") and text.rstrip().endswith("-----END CERTIFICATE-----")


def test_macos_fails_fast_listing_linux_tools() -> None:
    with pytest.raises(PreflightError, match=r"needs Linux namespaces.*slirp4netns.*unshare"):
        check_platform("darwin")


def test_missing_tools_are_listed_with_packages(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PreflightError) as e:
        preflight(kernel_wireguard=False)
    msg = str(e.value)
    assert "missing tools on PATH: slirp4netns, wg, ip, iptables" in msg and "wireguard-go" in msg
    assert "sudo apt install -y slirp4netns wireguard-tools iproute2 iptables util-linux procps" in msg
    assert "sudo dnf install -y slirp4netns wireguard-tools iproute iptables-nft util-linux procps-ng" in msg


def test_install_hint_dedupes_packages() -> None:
    assert install_hint(["iptables", "ip6tables"]).splitlines()[0].endswith("install -y iptables")


def status(**kw: object) -> Status:
    base: dict = {
        "platform": "linux", "tools": {}, "missing": [], "wireguard": "userspace", "tun": True,
        "userns": True, "userns_error": "", "apparmor_restrict_unprivileged_userns": None,
        "max_user_namespaces": "1", "wsl": False,
    }  # fmt: skip
    base.update(kw)
    return Status(**base)


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({}, None),
        ({"tun": False}, "sudo chmod 666 /dev/net/tun"),
        ({"tun": False, "wireguard": "kernel"}, None),
        (
            {"userns": False, "apparmor_restrict_unprivileged_userns": "1"},
            "apparmor_restrict_unprivileged_userns=0",
        ),
        ({"userns": False}, "user.max_user_namespaces"),
        ({"missing": ["slirp4netns"]}, "apt install -y slirp4netns"),
        ({"platform": "darwin"}, "needs Linux namespaces"),
    ],
)
def test_diagnose(kw: dict, needle: str | None) -> None:
    problems = diagnose(status(**kw))
    if needle is None:
        assert problems == []
    else:
        assert any(needle in p for p in problems), problems


def test_wireguard_config_command_prints_config_and_warns(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from ccproxy.cli.main import cli

    (tmp_path / "ccproxy.yaml").write_text("ccproxy:\n  inspector:\n    wireguard_port: 51999\n")
    result = CliRunner().invoke(cli, ["--config", str(tmp_path), "namespace", "wireguard-config"])
    assert result.exit_code == 0, result.output
    keys = load_or_create_keys(tmp_path)
    assert f"PrivateKey = {keys.client_key}" in result.stdout
    assert "Endpoint = 127.0.0.1:51999" in result.stdout
    assert "private key" in result.stderr and keys.client_key not in result.stderr
    assert stat.S_IMODE(key_path(tmp_path).stat().st_mode) == 0o600


def test_bad_resolve_entry_is_a_one_line_startup_error(tmp_path: Path) -> None:
    from ccproxy.config import ConfigError, parse_config

    # Refused when the config is read (so `ccproxy status` refuses it too), before any start-up.
    with pytest.raises(ConfigError, match=r"^ccproxy.inspector.resolve.api.anthropic.com: invalid port '70000'"):
        parse_config({"ccproxy": {"inspector": {"resolve": {"api.anthropic.com": "127.0.0.1:70000"}}}}, tmp_path)


def test_daemon_plans_the_wireguard_listener(tmp_path: Path) -> None:
    from ccproxy.config import parse_config
    from ccproxy.daemon.master import Daemon

    config = parse_config({"ccproxy": {"inspector": {"wireguard_port": 51999}}}, tmp_path)
    daemon = Daemon(config)
    wg = {name: spec for spec, name in daemon.plan.names.items() if name.startswith("wireguard")}
    assert wg == {
        "wireguard": f"wireguard:{tmp_path / 'wireguard.conf'}@127.0.0.1:51999",
        "wireguard-1": f"wireguard:{tmp_path / 'wireguard-1.conf'}@127.0.0.1:52000",
        "wireguard-2": f"wireguard:{tmp_path / 'wireguard-2.conf'}@127.0.0.1:52001",
        "wireguard-3": f"wireguard:{tmp_path / 'wireguard-3.conf'}@127.0.0.1:52002",
    }
    # Every slot has its own key pair.
    assert len({load_or_create_keys(tmp_path, i).client_key for i in range(4)}) == 4
    off = parse_config({"ccproxy": {"inspector": {"wireguard": False}}}, tmp_path / "off")
    assert "wireguard" not in Daemon(off).plan.names.values()


@pytest.mark.parametrize("resolve_first", [True, False])
async def test_addon_order_guard(resolve_first: bool, caplog: pytest.LogCaptureFixture) -> None:
    from mitmproxy import options
    from mitmproxy.addons.dns_resolver import DnsResolver
    from mitmproxy.master import Master

    master = Master(options.Options())
    resolve, resolver = ResolveOverrides({}), DnsResolver()
    master.addons.add(*((resolve, resolver) if resolve_first else (resolver, resolve)))
    with caplog.at_level(logging.ERROR):
        await master.running()
    assert ("pinned names would be resolved for real" in caplog.text) is not resolve_first


def test_slots_are_exclusive_and_freed_with_their_fd(tmp_path: Path) -> None:
    from ccproxy.jail.slots import acquire_slot, release_slot

    a, b = acquire_slot(tmp_path, 2), acquire_slot(tmp_path, 2)
    assert a is not None and b is not None and (a[0], b[0]) == (0, 1)
    assert acquire_slot(tmp_path, 2) is None
    release_slot(a[1])
    c = acquire_slot(tmp_path, 2)
    assert c is not None and c[0] == 0
    release_slot(b[1])
    release_slot(c[1])
