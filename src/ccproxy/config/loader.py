"""Config discovery, loading and user-facing error messages."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ccproxy.config.models import Config

CONFIG_NAME = "ccproxy.yaml"


class ConfigError(Exception):
    """A config problem explained in one line for the user."""


def default_config_dir() -> Path:
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(xdg) / "ccproxy"


def discover_config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """--config PATH, then $CCPROXY_CONFIG_DIR/ccproxy.yaml, then $XDG_CONFIG_HOME/ccproxy/ccproxy.yaml."""
    if explicit:
        path = Path(explicit).expanduser()
        return path / CONFIG_NAME if path.is_dir() else path
    env_dir = os.environ.get("CCPROXY_CONFIG_DIR")
    if env_dir:
        return Path(env_dir).expanduser() / CONFIG_NAME
    return default_config_dir() / CONFIG_NAME


def _loc_to_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item.startswith("function-") or ("[" in item and item.endswith("]")):
            # pydantic adds union-member / discriminator tags to locations; users never wrote those.
            continue
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts)


def format_validation_error(err: ValidationError) -> str:
    """One line per problem: `key.path: what is wrong (valid: ...)`."""
    lines = []
    for e in err.errors():
        path = _loc_to_path(tuple(e["loc"])) or "(top level)"
        kind = e["type"]
        ctx = e.get("ctx") or {}
        if kind == "extra_forbidden":
            msg = "unknown key"
        elif kind in ("literal_error", "enum"):
            msg = f"invalid value {e.get('input')!r} (valid: {ctx.get('expected', '?')})"
        elif kind == "union_tag_invalid":
            msg = f"invalid value {ctx.get('tag')!r} (valid: {ctx.get('expected_tags', '?')})"
            path = f"{path}.{ctx.get('discriminator', 'type').strip(chr(39))}"
        elif kind == "union_tag_not_found":
            msg = f"missing key {ctx.get('discriminator', 'type')!s}"
        elif kind == "missing":
            msg = "required key is missing"
        elif kind == "value_error":
            msg = str(ctx.get("error", e["msg"]))
        else:
            msg = f"{e['msg']} (got {e.get('input')!r})"
        lines.append(f"{path}: {msg}")
    return "; ".join(lines)


def parse_config(data: Any, config_dir: Path) -> Config:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("config must be a mapping with a top-level `ccproxy:` key")
    try:
        config = Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e)) from e
    config._config_dir = config_dir
    return config


def load_config(explicit: str | os.PathLike[str] | None = None, *, create: bool = False) -> Config:
    """Load the discovered config; with create=True a missing file is initialised from the template."""
    path = discover_config_path(explicit)
    if not path.exists():
        if explicit and not create:
            raise ConfigError(f"config file not found: {path}")
        if create:
            from ccproxy.config.template import write_template

            try:
                write_template(path)
            except OSError as e:
                raise ConfigError(f"cannot create config {path}: {e.strerror or e}") from e
        else:
            return apply_env(parse_config({}, path.parent))
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror}") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: invalid YAML: {getattr(e, 'problem', e)}") from e
    try:
        config = parse_config(data, path.parent)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from e
    return apply_env(config)


def apply_env(config: Config) -> Config:
    """Environment overrides: LOG_LEVEL beats ccproxy.log_level."""
    level = os.environ.get("LOG_LEVEL")
    if level:
        level = level.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError(f"LOG_LEVEL: invalid value {level!r} (valid: DEBUG, INFO, WARNING, ERROR, CRITICAL)")
        config.ccproxy.log_level = level  # type: ignore[assignment]
    return config
