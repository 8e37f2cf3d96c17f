"""The mitmproxy pin and the compatibility module's self-check stay in step."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import options
from mitmproxy.log import LegacyLogEvents
from mitmproxy.master import Master
from mitmproxy.proxy.layers.http import HttpStream
from mitmproxy.version import VERSION
from packaging.specifiers import SpecifierSet

from ccproxy import mitm_compat as compat

REPO = Path(__file__).resolve().parents[2]


def pinned() -> str:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    (spec,) = [d for d in deps if d.startswith("mitmproxy")]
    return spec.removeprefix("mitmproxy")


def test_pyproject_pins_the_tested_range() -> None:
    spec = SpecifierSet(pinned())
    assert str(spec) == str(SpecifierSet(compat.TESTED_RANGE))
    assert any(s.operator == "<" for s in spec), "an open upper bound lets pip pull untested internals"


def test_lock_and_installed_version_are_in_range() -> None:
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    (locked,) = [p["version"] for p in lock["package"] if p["name"] == "mitmproxy"]
    spec = SpecifierSet(compat.TESTED_RANGE)
    assert locked in spec and VERSION in spec


def test_self_check_passes_on_the_installed_mitmproxy() -> None:
    assert compat.self_check() == {}


def test_a_missing_seam_disables_its_feature_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delattr(HttpStream, "start_response_stream")
    problems = compat.self_check()
    assert problems == {"faults": "HttpStream.start_response_stream"}
    with caplog.at_level(logging.WARNING, logger="ccproxy.daemon"):
        compat.warn_disabled(problems)
    (record,) = caplog.records
    assert "HttpStream.start_response_stream" in record.getMessage() and compat.TESTED_RANGE in record.getMessage()


def _states() -> list[tuple[type, dict[str, object]]]:
    from mitmproxy import http
    from mitmproxy.test import tflow

    f = tflow.tflow(resp=True)
    f.request.content = b'{"model": "m"}'
    f.request.headers["x-dup"] = "1"
    f.request.headers.add("x-dup", "2")
    snap = f.request.get_state()
    snap["host"], snap["port"], snap["scheme"] = "127.0.0.1", 4000, b"http"  # as the inspector patches it
    assert f.response is not None
    with_trailers = http.Response.make(200, b"data: {}\n\n", {"content-type": "text/event-stream"})
    with_trailers.trailers = http.Headers(((b"x-t", b"1"),))
    return [(http.Request, snap), (http.Response, f.response.get_state()), (http.Response, with_trailers.get_state())]


@pytest.mark.parametrize("kind,state", _states())
def test_message_from_state_is_from_state_without_the_type_check(kind: type, state: dict[str, object]) -> None:
    fast, slow = compat.message_from_state(kind, dict(state)), kind.from_state(dict(state))
    assert type(fast) is kind and fast.get_state() == slow.get_state() == state
    assert fast.headers.get_all("x-dup") == slow.headers.get_all("x-dup")
    assert fast.content == slow.content and fast.stream is False
    fast.headers["x-new"] = "v"  # a rebuilt message is its own: the state it came from is untouched
    assert "x-new" not in kind.from_state(dict(state)).headers


def test_message_from_state_falls_back_for_any_other_shape() -> None:
    from mitmproxy import http

    state = http.Response.make(200, b"x").get_state()
    del state["trailers"]  # a shape get_state never produced: from_state's own error, not a half-built message
    with pytest.raises(TypeError):
        compat.message_from_state(http.Response, state)


@pytest.mark.parametrize(
    "status,content,headers",
    [
        (200, b'{"id": "x"}', {"content-type": "application/json"}),
        (429, b"{}", {"content-type": "application/json", "retry-after": "3", "x-request-id": "r\u00e9q"}),
        (529, b"", {}),  # a status without a reason phrase
        (200, b"plain", {"content-type": "text/plain", "content-encoding": "gzip"}),  # Response.make encodes it
        (200, b"x", {"Content-Length": "99"}),  # Response.make replaces it in place
    ],
)
def test_make_response_is_response_make(status: int, content: bytes, headers: dict[str, str]) -> None:
    from mitmproxy import http

    fast, slow = compat.make_response(status, content, dict(headers)), http.Response.make(status, content, headers)
    fast_state, slow_state = fast.get_state(), slow.get_state()
    for state in (fast_state, slow_state):
        assert state.pop("timestamp_start") <= state.pop("timestamp_end")
    assert fast_state == slow_state and type(fast) is http.Response
    assert fast.content == content and fast.stream is False


LEAN_PROBE = """
import sys
from ccproxy import mitm_compat
mitm_compat.lean_addons_package()
from mitmproxy.addons import core, proxyserver
from mitmproxy.master import Master
heavy = sorted(m for m in ("flask", "werkzeug", "jinja2", "ldap3", "pyasn1") if m in sys.modules)
from mitmproxy import addons
names = {type(a).__name__ for a in addons.default_addons()}
print(heavy, "Core" in names and "Proxyserver" in names, addons.core is core)
"""


def test_lean_addons_package_imports_only_what_is_asked_for() -> None:
    """In a fresh interpreter (this one has mitmproxy.addons already): the six addons the daemon
    uses come without flask & co, and `default_addons` still runs the real package __init__."""
    done = subprocess.run([sys.executable, "-c", LEAN_PROBE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "True", "True"]


async def test_the_deprecated_add_log_relay_is_dropped() -> None:
    """Every Master relays each log record as an `add_log` event to every addon; ours drops it."""

    def relays() -> list[logging.Handler]:
        return [h for h in logging.getLogger().handlers if isinstance(h, LegacyLogEvents)]

    master = Master(options.Options(), event_loop=asyncio.get_running_loop(), with_termlog=False)
    try:
        assert relays(), "mitmproxy no longer installs its relay: drop_legacy_log_events can go"
        assert compat.drop_legacy_log_events(master)
        assert not relays()
    finally:
        master._legacy_log_events.uninstall()


def _flows_of_every_shape() -> list[object]:
    """Real mitmproxy flows in the shapes the store serialises: answered, failed, websocket,
    TLS on both sides (certificates, ALPN, ciphers), transformed (client snapshot, converted
    response, stream facts in metadata), edited (a backup), and the flows of a real flow file."""
    from mitmproxy import certs, connection, http
    from mitmproxy.flow import Error
    from mitmproxy.proxy import mode_specs
    from mitmproxy.test import tflow

    from ccproxy.flows import meta, mitmformat

    answered = tflow.tflow(resp=True)
    failed = tflow.tflow(err=True)
    failed.metadata[meta.ERROR] = "ccproxy: upstream refused"
    websocket = tflow.twebsocketflow()
    _key, ca = certs.create_ca("ccproxy-test", "ccproxy test CA", 2048)
    tls = tflow.tflow(resp=True)
    tls.server_conn.certificate_list = [certs.Cert(ca)]
    tls.server_conn.alpn, tls.server_conn.tls_version, tls.server_conn.cipher = (
        b"h2",
        "TLSv1.3",
        "TLS_AES_128_GCM_SHA256",
    )
    tls.client_conn.certificate_list, tls.client_conn.mitmcert = [certs.Cert(ca)], certs.Cert(ca)
    tls.client_conn.alpn_offers, tls.client_conn.cipher_list = [b"h2", b"http/1.1"], ["TLS_AES_128_GCM_SHA256"]
    tls.client_conn.proxy_mode = mode_specs.ProxyMode.parse("reverse:https://api.anthropic.com@127.0.0.1:4000")
    tls.server_conn.via = None
    tls.client_conn.sockname = ("127.0.0.1", 4000, 0, 0)  # an IPv6-style 4-tuple address
    converted = tflow.tflow(resp=True)
    converted.request.content = b'{"model": "claude-test", "messages": []}'
    converted.metadata[meta.CLIENT_REQUEST] = converted.request.get_state()
    converted.metadata[meta.CLIENT_RESPONSE] = http.Response.make(200, b'{"choices": []}').get_state()
    converted.metadata[meta.STREAM] = {"events": 3, "first_byte_s": 0.01, "bytes": [12, 34]}
    converted.metadata[meta.ATTEMPTS] = [{"model": "m", "status": 429, "waited_s": 1.5, "reason": None}]
    converted.metadata[meta.HOOK_TIMINGS] = [{"stage": "inbound", "hook": "inject_auth", "start": 1.0, "end": 2}]
    converted.error = Error("client disconnected", timestamp=5)  # an int where a float is declared
    edited = tflow.tflow(resp=True)
    edited.backup()
    edited.request.path = "/edited"
    bare = http.HTTPFlow(
        connection.Client(peername=("127.0.0.1", 5), sockname=("127.0.0.1", 4000)),
        connection.Server(address=None),
    )
    bare.request = http.Request.make("GET", "http://127.0.0.1:4000/v1/models")
    legacy = list(mitmformat.read_file(Path(__file__).parents[1] / "flows" / "data" / "legacy-flows.mitm"))
    return [answered, failed, websocket, tls, converted, edited, bare, *legacy]


def test_flow_state_is_get_state_on_flows_of_every_shape() -> None:
    from ccproxy.flows import tnetstring

    flows = _flows_of_every_shape()
    for flow in flows:
        fast, slow = compat.flow_state(flow), flow.get_state()  # type: ignore[attr-defined]
        assert fast == slow and list(fast) == list(slow)
        assert tnetstring.dumps(fast) == tnetstring.dumps(slow)  # the stored bytes: key order too
        fast["metadata"]["x"] = 1  # a copy: the flow's own metadata is untouched
        assert "x" not in flow.metadata  # type: ignore[attr-defined]


def test_flow_state_raises_as_get_state_does_on_an_invalid_value() -> None:
    from mitmproxy.test import tflow

    flow = tflow.tflow(resp=True)
    flow.client_conn.transport_protocol = "sctp"  # type: ignore[assignment]  # not one of its Literal values
    with pytest.raises(ValueError, match="transport_protocol"):
        flow.get_state()
    with pytest.raises(ValueError, match="transport_protocol"):
        compat.flow_state(flow)


def test_flow_state_falls_back_for_a_flow_subclass() -> None:
    from mitmproxy import http
    from mitmproxy.test import tflow

    class Custom(http.HTTPFlow):
        def get_state(self) -> dict[str, object]:
            return {**super().get_state(), "custom": True}

    flow = tflow.tflow(resp=True)
    flow.__class__ = Custom
    assert compat.flow_state(flow)["custom"] is True


def _stock_destination(request: Any, scheme: str, host: str, port: int, authority: str) -> None:
    """apply_destination as it was, through mitmproxy's own setters."""
    request.scheme, request.host, request.port = scheme, host, port
    if request.http_version.startswith(("HTTP/2", "HTTP/3")):
        request.authority = authority
        request.headers.pop("host", None)
    else:
        request.headers["host"] = authority


@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/2.0"])
@pytest.mark.parametrize("authority", ["", "old.example:8443"])
@pytest.mark.parametrize("with_host", [True, False])
@pytest.mark.parametrize(
    "provider",
    [
        {"type": "openai", "host": "127.0.0.1:9001", "scheme": "http"},
        {"type": "anthropic", "host": "api.anthropic.com"},
        {"type": "openai", "host": "[::1]:8080", "scheme": "http"},
        {"type": "openai", "host": "localhost", "scheme": "http"},
    ],
)
def test_retarget_leaves_the_request_as_mitmproxys_setters_do(
    version: str, authority: str, with_host: bool, provider: dict[str, str]
) -> None:
    from mitmproxy.test import tutils

    from ccproxy.config.models import Provider
    from ccproxy.providers.destination import apply_destination

    p = Provider.model_validate(provider)
    default = 443 if p.scheme == "https" else 80
    wanted = p.hostname if p.port == default else f"{p.hostname}:{p.port}"
    requests = []
    for _ in range(2):
        req = tutils.treq(http_version=version.encode(), authority=authority.encode())
        req.headers.clear()
        req.headers.update({"content-type": "application/json", **({"Host": "127.0.0.1:4000"} if with_host else {})})
        req.headers["x-after"] = "1"
        requests.append(req)
    _stock_destination(requests[0], p.scheme, p.hostname, p.port, wanted)
    requests[0].path = "/v1/x"
    apply_destination(requests[1], p, "/v1/x")
    assert requests[1].get_state() == requests[0].get_state()
    assert list(requests[1].headers.fields) == list(requests[0].headers.fields)  # header order too


def _message_args(kind: str) -> dict[str, Any]:
    from mitmproxy import http

    common = {"http_version": b"HTTP/1.1", "headers": http.Headers(a="1"), "content": b"{}", "trailers": None}
    if kind == "request":
        fields = {"host": "127.0.0.1", "port": 80, "method": b"POST", "scheme": b"http", "authority": b"", "path": b"/"}
    else:
        fields = {"status_code": 200, "reason": b"OK"}
    return {**common, **fields, "timestamp_start": 1, "timestamp_end": None}  # an int where a float goes


@pytest.mark.parametrize("kind", ["request", "response"])
def test_fast_message_typecheck_accepts_and_refuses_what_mitmproxy_does(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mitmproxy import http

    data_cls = http.RequestData if kind == "request" else http.ResponseData
    monkeypatch.setattr(http.MessageData, "__post_init__", http.MessageData.__post_init__)  # restored after

    odd = object()

    def outcomes() -> list[str]:
        out = [type(data_cls(**_message_args(kind))).__name__]
        for name in _message_args(kind):
            for wrong in (odd, "text", b"bytes", 1.5, None, True):
                args = {**_message_args(kind), name: wrong}
                try:
                    data_cls(**args)
                    out.append(f"{name}={wrong!r}: ok")
                except TypeError as e:
                    out.append(f"{name}={wrong!r}: {e}")
        return out

    stock = outcomes()
    assert compat.fast_message_typecheck()
    assert getattr(http.MessageData.__post_init__, "_ccproxy_fast", False)
    assert compat.fast_message_typecheck()  # a second call leaves it as it is
    assert outcomes() == stock
    assert sum(": Expected" in line for line in stock) > len(_message_args(kind))  # it refuses things
