"""The packaged shapes are what the official SDKs send today, with nothing secret in them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccproxy.config import ConfigError, load_config
from ccproxy.shapes.merge import client_family
from ccproxy.shapes.sanitize import find_secrets, sanitize_request
from ccproxy.shapes.store import PACKAGED_DIR, read_shape_file
from tests.shapes.packaged_capture import capture

VOLATILE = {"content-length", "host", "x-stainless-runtime-version", "x-stainless-os", "x-stainless-arch"}


def test_packaged_shapes_match_a_fresh_capture_from_the_sdks(tmp_path: Path) -> None:
    """Regenerate them: a changed SDK envelope (a new header, a new client) shows up here;
    refresh with `python -m tests.shapes.packaged_capture`."""
    fresh = {p.name: p for p in capture(tmp_path / "fresh")}
    assert sorted(fresh) == sorted(p.name for p in PACKAGED_DIR.glob("*.mflow"))
    for name, path in fresh.items():
        (now,) = read_shape_file(path)
        (shipped,) = read_shape_file(PACKAGED_DIR / name)
        assert client_family(now.request.headers.get("user-agent")) == client_family(
            shipped.request.headers.get("user-agent")
        ), name
        assert {k.lower() for k in now.request.headers} - VOLATILE == {
            k.lower() for k in shipped.request.headers
        } - VOLATILE, name
        assert find_secrets(shipped.request) == [], name


def test_sanitize_removes_what_find_secrets_finds() -> None:
    (flow,) = read_shape_file(PACKAGED_DIR / "anthropic.mflow")
    req = flow.request.copy()
    req.headers["x-api-key"] = "sk-ant-api03-abcdefghijklmnop"
    req.headers["cookie"] = "session=1"
    req.headers["chatgpt-account-id"] = "acct-1"
    req.query["key"] = "AIza" + "k" * 35
    req.set_content(b'{"model": "m", "messages": [], "metadata": {"user_id": "user_1_account_2"}}')
    assert sorted(find_secrets(req)) == [
        "body.metadata.user_id",
        "headers.chatgpt-account-id",
        "headers.cookie",
        "headers.x-api-key",
        "query.key",
    ]
    assert find_secrets(sanitize_request(req)) == []


@pytest.mark.parametrize(
    ("shaping", "message"),
    [
        (
            {"providers": {"anthropic": {"merge_strategies": {"system": "merge"}}}},
            "shaping.providers.anthropic.merge_strategies.system: invalid strategy 'merge'",
        ),
        ({"providers": {"anthropic": {"fresh": {"metadata.id": "uuid"}}}}, "fresh.metadata.id"),
        ({"providers": {"anthropic": {"fresh": {"headers.x-id": "random"}}}}, "'random'"),
        ({"providers": {"anthropic": {"capture": {"path_pattern": "(["}}}}, "path_pattern: invalid regex"),
        ({"reload_seconds": -1}, "reload_seconds"),
    ],
)
def test_bad_shaping_config_names_the_key(tmp_path: Path, shaping: dict[str, object], message: str) -> None:
    import yaml

    (tmp_path / "ccproxy.yaml").write_text(yaml.safe_dump({"ccproxy": {"shaping": shaping}}))
    with pytest.raises(ConfigError, match="shaping") as err:
        load_config(str(tmp_path))
    assert message in str(err.value)
