"""The client commands' validated-config cache (config.cli_cache): a hit skips pydantic and
PyYAML; anything else (a changed, bad, corrupt, foreign or forged-mode file) validates the
whole config like `start` does, with the same errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ccproxy.config.cli_cache import VALIDATING_MODULES, cache_path, load_cli_view
from ccproxy.config.cli_view import CliView
from ccproxy.config.loader import ConfigError, load_config

# Runs the CLI and writes the names of the loaded modules to argv[1] at exit.
_PROBE = """
import atexit, json, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv[0] = "ccproxy"
from ccproxy.cli.main import main
main()
"""
BAD_REGEX = "ccproxy:\n  lightllm:\n    transforms:\n      - match_path: '('\n"
BAD_REGEX_ERROR = (
    "ccproxy.lightllm.transforms[0].match_path: invalid regex '(': missing ), unterminated subpattern at position 0"
)


def _cli(tmp: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    out = tmp / "modules.json"
    full_env = {"PATH": "/usr/bin:/bin", "CCPROXY_CONFIG_DIR": str(tmp), "HOME": str(tmp), **env}
    r = subprocess.run(
        [sys.executable, "-c", _PROBE, str(out), *args], env=full_env, capture_output=True, text=True, timeout=120
    )
    return r, set(json.loads(out.read_text()))


def _loaded(modules: set[str], *names: str) -> list[str]:
    return sorted(n for n in names if any(m == n or m.startswith(n + ".") for m in modules))


def _config(tmp: Path, text: str) -> Path:
    path = tmp / "ccproxy.yaml"
    path.write_text(text)
    return path


def _forge_port(path: Path, port: int) -> None:
    """Change the view a cache entry holds, keeping its key: only a hit can return it."""
    entry = json.loads(cache_path(path).read_text())
    entry["view"]["port"] = port
    cache_path(path).write_text(json.dumps(entry))


def test_a_hit_loads_neither_pydantic_nor_yaml(tmp_path: Path) -> None:
    _config(tmp_path, "ccproxy:\n  port: 9\n  providers:\n    mine: {type: openai, host: 127.0.0.1:9}\n")
    first, cold = _cli(tmp_path, "run", "--provider", "nope", "--", "true")
    second, warm = _cli(tmp_path, "run", "--provider", "nope", "--", "true")
    message = "ccproxy: error: --provider nope: no such provider in the config (configured: mine)\n"
    assert (first.returncode, first.stderr) == (second.returncode, second.stderr) == (1, message)
    assert _loaded(cold, "pydantic", "yaml") == ["pydantic", "yaml"]
    assert _loaded(warm, "pydantic", "yaml") == []
    assert cache_path(tmp_path / "ccproxy.yaml").stat().st_mode & 0o777 == 0o600


def test_without_a_config_file_the_defaults_are_cached_once_the_dir_exists(tmp_path: Path) -> None:
    missing = tmp_path / "not-yet"
    first, cold = _cli(tmp_path, "run", "--provider", "nope", "--", "true", CCPROXY_CONFIG_DIR=str(missing))
    assert not missing.exists(), "the cache never creates the config dir"
    missing.mkdir()
    second, _ = _cli(tmp_path, "run", "--provider", "nope", "--", "true", CCPROXY_CONFIG_DIR=str(missing))
    third, warm = _cli(tmp_path, "run", "--provider", "nope", "--", "true", CCPROXY_CONFIG_DIR=str(missing))
    assert first.returncode == second.returncode == third.returncode == 1
    assert first.stderr == second.stderr == third.stderr
    assert _loaded(cold, "pydantic") == ["pydantic"]
    assert _loaded(warm, "pydantic", "yaml") == []
    path = missing / "ccproxy.yaml"
    assert cache_path(path).stat().st_mode & 0o777 == 0o600
    # a config file written later is a different key: validated, not the defaults' entry
    path.write_text(BAD_REGEX)
    bad, _ = _cli(tmp_path, "run", "--", "true", CCPROXY_CONFIG_DIR=str(missing))
    assert bad.returncode == 1
    assert bad.stderr == f"ccproxy: error: {path}: {BAD_REGEX_ERROR}\n"


def test_a_bad_config_is_never_cached_and_fails_like_start(tmp_path: Path) -> None:
    path = _config(tmp_path, "ccproxy:\n  port: 9\n")
    assert _cli(tmp_path, "flows", "list")[0].returncode == 1  # nothing listens, no flows.db: but validated
    assert cache_path(path).exists()
    path.write_text(BAD_REGEX)  # a cache for the old bytes is there: it must not answer
    for command in (("flows", "list"), ("run", "--", "true"), ("start",)):
        r, _ = _cli(tmp_path, *command)
        assert (r.returncode, r.stderr) == (1, f"ccproxy: error: {path}: {BAD_REGEX_ERROR}\n"), command
    with pytest.raises(ConfigError):
        load_cli_view(path)
    entry = json.loads(cache_path(path).read_text())
    assert entry["view"]["port"] == 9  # still the old config's entry: the bad one was not written


def test_an_invalid_log_level_fails_on_a_hit_too(tmp_path: Path) -> None:
    _config(tmp_path, "ccproxy:\n  port: 9\n")
    _cli(tmp_path, "run", "--", "true")
    r, modules = _cli(tmp_path, "run", "--", "true", LOG_LEVEL="loud")
    assert _loaded(modules, "pydantic") == []
    valid = "DEBUG, INFO, WARNING, ERROR, CRITICAL"
    assert r.stderr == f"ccproxy: error: LOG_LEVEL: invalid value 'LOUD' (valid: {valid})\n"


def test_the_view_is_the_validated_configs(tmp_path: Path) -> None:
    text = (
        "ccproxy:\n  host: 127.0.0.2\n  port: 4100\n  state_dir: ~/state\n"
        "  flows: {persist: false, default_jq_filters: ['map(.)']}\n"
        "  providers: {b: {host: x.example}, a: {host: y.example}}\n"
    )
    path = _config(tmp_path, text)
    expected = CliView.from_config(load_config(path))
    assert load_cli_view(path) == expected  # a miss: validated, then written
    assert load_cli_view(path) == expected  # a hit: read back whole
    assert expected.provider_names == ("b", "a") and expected.default_jq_filters == ("map(.)",)


def test_a_hit_is_keyed_on_the_bytes(tmp_path: Path) -> None:
    path = _config(tmp_path, "ccproxy:\n  port: 9\n")
    load_cli_view(path)
    _forge_port(path, 4242)
    assert load_cli_view(path).port == 4242  # the entry answered
    path.write_text("ccproxy:\n  port: 10\n")
    assert load_cli_view(path).port == 10


@pytest.mark.parametrize(
    "spoil",
    [
        lambda p: p.write_text("{not json"),
        lambda p: p.write_text(json.dumps({"format": 1, "key": "x", "view": {}})),
        lambda p: p.chmod(0o666),  # writable by others: foreign
        lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "view": {"port": "4242"}})),
    ],
    ids=["corrupt", "stale key", "writable by others", "wrong types"],
)
def test_a_corrupt_or_foreign_cache_is_a_miss(tmp_path: Path, spoil: object) -> None:
    path = _config(tmp_path, "ccproxy:\n  port: 9\n")
    load_cli_view(path)
    _forge_port(path, 4242)
    spoil(cache_path(path))  # type: ignore[operator]
    assert load_cli_view(path).port == 9
    assert load_cli_view(path).port == 9  # and a good entry was written again
    assert cache_path(path).stat().st_mode & 0o777 == 0o600


def test_a_symlinked_cache_is_a_miss(tmp_path: Path) -> None:
    path = _config(tmp_path, "ccproxy:\n  port: 9\n")
    load_cli_view(path)
    _forge_port(path, 4242)
    real = tmp_path / "elsewhere"
    cache_path(path).rename(real)
    cache_path(path).symlink_to(real)
    assert load_cli_view(path).port == 9


def test_a_fingerprint_profile_config_is_not_cached(tmp_path: Path) -> None:
    pytest.importorskip("curl_cffi", reason="needs curl-cffi (pip package curl-cffi)")
    path = _config(tmp_path, "ccproxy:\n  providers:\n    p: {host: x.example, fingerprint_profile: chrome136}\n")
    load_cli_view(path)
    assert not cache_path(path).exists()


def test_a_cache_that_cannot_be_written_only_means_no_cache(tmp_path: Path) -> None:
    path = _config(tmp_path, "ccproxy:\n  port: 9\n")
    cache_path(path).mkdir()  # in the way of the rename (and not a regular file to read)
    assert load_cli_view(path).port == 9
    assert cache_path(path).is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name, cache_path(path).name]  # no temp file left


def test_the_key_covers_every_module_validation_runs(tmp_path: Path) -> None:
    """A ccproxy module that validation imports but the key leaves out would let a stale
    entry answer after an upgrade that changed it."""
    path = _config(
        tmp_path,
        "ccproxy:\n  inspector: {allow_origins: ['http://localhost:3000'], resolve: {a.example: '127.0.0.1:1'}}\n"
        "  providers:\n    p: {host: x.example, fingerprint_profile: chrome136}\n",
    )
    probe = (
        "import sys, json\n"
        "before = set(sys.modules)\n"
        "from ccproxy.config.cli_cache import load_cli_view\n"
        f"load_cli_view({str(path)!r})\n"
        "print(json.dumps(sorted(m for m in set(sys.modules) - before if m.startswith('ccproxy.'))))\n"
    )
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    if "curl-cffi" in r.stderr:
        pytest.skip("needs curl-cffi (pip package curl-cffi)")
    assert r.returncode == 0, r.stderr
    covered = {"ccproxy." + m.removesuffix(".py").replace("/", ".") for m in VALIDATING_MODULES}
    # Their __init__ files hold only a docstring (config's: lazy names).
    packages = {"ccproxy.access", "ccproxy.config", "ccproxy.transport"}
    loaded = set(json.loads(r.stdout)) - packages
    assert loaded <= covered, sorted(loaded - covered)
    assert "ccproxy.config.models" in loaded and "ccproxy.transport.profiles" in loaded
