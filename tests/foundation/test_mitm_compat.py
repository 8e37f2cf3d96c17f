"""The mitmproxy pin and the compatibility module's self-check stay in step."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import tomllib
from pathlib import Path

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
