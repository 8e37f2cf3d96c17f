"""The client commands' cache of "this exact config validated OK" (docs/performance.md).

`ccproxy flows ...` and `ccproxy run -- CMD` must refuse every config that `start` refuses,
but importing pydantic and building the models costs them most of their start-up. So the
first run validates the whole config as `start` does and writes, next to the config file,
``<name>.validated``: a key over everything validation reads, and the `CliView` it produced.
A later run whose key matches takes the view and never imports pydantic (nor PyYAML).
Without a config file the defaults are validated and cached the same way, keyed as "no
file", once the config directory exists (`start` creates it; the cache never does).

The key covers the config file's path and bytes, ccproxy's version and the source of every
module that validation runs, the versions of pydantic, pydantic-core and PyYAML (the file
stamps of their packages) and Python's. A bad config is never written, so its errors stay
exactly those of `start`. A config that names a `fingerprint_profile` is never written
either: whether it is valid depends on the installed curl-cffi. A cache file that is
corrupt, foreign (another owner, writable by others, not a regular file) or stale is a miss,
never an error; a cache that cannot be written is skipped.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

from ccproxy import __version__
from ccproxy.config.cli_view import CliView
from ccproxy.config.loader import decode_config, env_log_level, read_config_bytes, validate_config_data

FORMAT = 1
SUFFIX = ".validated"
_PACKAGE = Path(__file__).resolve().parents[1]
# Every ccproxy module whose code decides whether a config is valid, or what the view holds
# (tests/flows/test_cli_cache.py checks the list against what validation imports).
VALIDATING_MODULES = (
    "access/local.py",
    "access/token.py",
    "config/addresses.py",
    "config/cli_cache.py",
    "config/cli_view.py",
    "config/defaults.py",
    "config/loader.py",
    "config/models.py",
    "transport/profiles.py",
)
# Third-party packages that validation runs: an upgrade rewrites their files.
VALIDATING_PACKAGES = ("pydantic", "pydantic_core", "yaml")


def cache_path(config_path: Path) -> Path:
    return config_path.with_name(config_path.name + SUFFIX)


def _code_stamp() -> bytes:
    digest = hashlib.sha256(f"{FORMAT}\0{__version__}\0{sys.version}\0".encode())
    for name in VALIDATING_MODULES:
        digest.update(name.encode() + b"\0" + (_PACKAGE / name).read_bytes() + b"\0")
    for package in VALIDATING_PACKAGES:
        spec = importlib.util.find_spec(package)
        origin = spec.origin if spec is not None else None
        if origin is None:
            raise OSError(f"{package}: no origin")
        st = os.stat(origin)
        digest.update(f"{package}\0{origin}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return digest.digest()


def cache_key(config_path: Path, raw: bytes | None) -> str:
    """The key of the config at ``config_path`` whose bytes are ``raw`` (None: no file, the
    defaults); OSError when the code it depends on cannot be read (then nothing is cached)."""
    digest = hashlib.sha256(_code_stamp())
    digest.update(str(config_path).encode() + (b"\0absent" if raw is None else b"\0file\0" + raw))
    return digest.hexdigest()


def _view_fields(view: CliView) -> dict[str, Any]:
    return {
        "host": view.host,
        "port": view.port,
        "state_dir_setting": view.state_dir_setting,
        "persist": view.persist,
        "default_jq_filters": list(view.default_jq_filters),
        "provider_names": list(view.provider_names),
    }


def _strings(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _view_from(fields: Any, config_dir: Path) -> CliView | None:
    """The view a cache entry holds; None for anything a writer of this format could not have written."""
    if not isinstance(fields, dict):
        return None
    host, port, state_dir = fields.get("host"), fields.get("port"), fields.get("state_dir_setting")
    if not (isinstance(host, str) and type(port) is int and (state_dir is None or isinstance(state_dir, str))):
        return None
    persist = fields.get("persist")
    filters, providers = _strings(fields.get("default_jq_filters")), _strings(fields.get("provider_names"))
    if not isinstance(persist, bool) or filters is None or providers is None:
        return None
    return CliView(
        config_dir=config_dir,
        host=host,
        port=port,
        state_dir_setting=state_dir,
        persist=persist,
        default_jq_filters=filters,
        provider_names=providers,
    )


def read_cached(config_path: Path, key: str) -> CliView | None:
    """The cached view for ``key``; None on a miss (no file, stale, corrupt or foreign)."""
    target = cache_path(config_path)
    try:
        fd = os.open(target, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022 or st.st_size > 1 << 20:
            return None
        with os.fdopen(fd, "rb") as f:
            fd = -1
            entry = json.loads(f.read())
    except (OSError, ValueError):
        return None
    finally:
        if fd >= 0:
            os.close(fd)
    if not isinstance(entry, dict) or entry.get("format") != FORMAT or entry.get("key") != key:
        return None
    return _view_from(entry.get("view"), config_path.parent)


def write_cached(config_path: Path, key: str, view: CliView) -> None:
    """Record ``view`` under ``key`` (0600, atomic rename); a failure only means no cache."""
    target = cache_path(config_path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    data = json.dumps({"format": FORMAT, "key": key, "view": _view_fields(view)}).encode()
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def load_cli_view(explicit: str | os.PathLike[str] | None = None) -> CliView:
    """The client commands' view of the discovered config, validated like `start` validates it
    (the same ConfigError on a bad config), through the cache when it holds this config."""
    path, raw = read_config_bytes(explicit)
    try:
        key: str | None = cache_key(path, raw)
    except OSError:
        key = None
    if key is not None:
        view = read_cached(path, key)
        if view is not None:
            env_log_level()  # the one input `start` checks outside the file
            return view
    config = validate_config_data(path, None if raw is None else decode_config(path, raw))
    view = CliView.from_config(config)
    if key is not None and not any(p.fingerprint_profile for p in config.ccproxy.providers.values()):
        write_cached(path, key, view)
    return view
