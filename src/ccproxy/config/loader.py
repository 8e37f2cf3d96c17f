"""Config discovery, loading and user-facing error messages."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pydantic and the models load with the first parse (see config.client)
    from pydantic import ValidationError

    from ccproxy.config.models import Config

CONFIG_NAME = "ccproxy.yaml"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(Exception):
    """A config problem explained in one line for the user."""


def key_path(*keys: str) -> str:
    """How errors name a config key: `key_path("state_dir")` is `ccproxy.state_dir`."""
    return ".".join(("ccproxy", *keys))


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


# Union branches pydantic names in locations: scalar types, by the input they accept.
_SCALAR_BRANCHES: dict[str, type | tuple[type, ...]] = {"str": str, "int": int, "float": (int, float), "bool": bool}


def _loc_to_path(loc: tuple[int | str, ...], data: Any = None) -> tuple[str, bool]:
    """(the key path the user wrote, whether the error's union branch fits the input).

    pydantic puts union-branch names (`str`, `HookEntry`) and discriminator values
    (`command` for `type: command`) into locations; the input tells them from real keys."""
    parts: list[str] = []
    fits = True
    for i, item in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(item, int):
            parts.append(f"[{item}]")
            data = data[item] if isinstance(data, list) and 0 <= item < len(data) else None
            continue
        if item.startswith("function-") or ("[" in item and item.endswith("]")):
            continue
        if isinstance(data, dict):
            if not last and item == data.get("type") and (loc[i + 1] in data or i + 1 == len(loc) - 1):
                continue  # discriminator value of a tagged union
            if item in data or (last and item not in _SCALAR_BRANCHES):
                parts.append(("." if parts else "") + item)
                data = data.get(item)
                continue
        if item in _SCALAR_BRANCHES:
            fits = fits and isinstance(data, _SCALAR_BRANCHES[item])
            continue
        if item[:1].isupper():  # a model branch (config keys are lowercase): it fits a mapping
            fits = fits and isinstance(data, dict)
            continue
        parts.append(("." if parts else "") + item)
        data = None
    return "".join(parts), fits


def _message(e: Any) -> str:
    kind = e["type"]
    ctx = e.get("ctx") or {}
    if kind == "extra_forbidden":
        return "unknown key"
    if kind in ("literal_error", "enum"):
        return f"invalid value {e.get('input')!r} (valid: {ctx.get('expected', '?')})"
    if kind == "union_tag_invalid":
        return f"invalid value {ctx.get('tag')!r} (valid: {ctx.get('expected_tags', '?')})"
    if kind == "union_tag_not_found":
        return f"missing key {ctx.get('discriminator', 'type')!s}"
    if kind == "missing":
        return "required key is missing"
    if kind == "value_error":
        return str(ctx.get("error", e["msg"]))
    return f"{e['msg']} (got {e.get('input')!r})"


def format_validation_error(err: ValidationError, data: Any = None) -> str:
    """One line per problem: `key.path: what is wrong (valid: ...)`. `data` is the input that
    failed; with it, errors of union branches the input cannot be are left out."""
    found: list[tuple[str, bool, str]] = []
    for e in err.errors():
        path, fits = _loc_to_path(tuple(e["loc"]), data)
        path = path or "(top level)"
        if e["type"] == "union_tag_invalid":
            path = f"{path}.{(e.get('ctx') or {}).get('discriminator', 'type').strip(chr(39))}"
        found.append((path, fits, _message(e)))
    lines: list[str] = []
    for path, fits, msg in found:
        # A branch that cannot match is noise, unless no branch at that key matched at all.
        if not fits and any(f for p, f, _ in found if p == path or p.startswith((path + ".", path + "["))):
            continue
        line = f"{path}: {msg}"
        if line not in lines and (fits or not any(x.startswith(f"{path}: ") for x in lines)):
            lines.append(line)
    return "; ".join(lines)


def parse_config(data: Any, config_dir: Path) -> Config:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("config must be a mapping with a top-level `ccproxy:` key")
    from pydantic import ValidationError

    from ccproxy.config.models import Config

    try:
        config = Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, data)) from e
    config._config_dir = config_dir
    return config


def load_config(explicit: str | os.PathLike[str] | None = None, *, create: bool = False) -> Config:
    """Load the discovered config; with create=True a missing file is initialised from the template."""
    path, data = read_config_data(explicit, create=create)
    return validate_config_data(path, data)


def validate_config_data(path: Path, data: Any) -> Config:
    """The YAML document read from ``path`` (None: no file), validated, with the env overrides."""
    try:
        config = parse_config(data, path.parent)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}" if path.exists() else str(e)) from e
    return apply_env(config)


def read_config_data(explicit: str | os.PathLike[str] | None = None, *, create: bool = False) -> tuple[Path, Any]:
    """(the discovered path, its YAML document; None for a missing file), without validating it."""
    path, raw = read_config_bytes(explicit, create=create)
    return path, None if raw is None else decode_config(path, raw)


def read_config_bytes(
    explicit: str | os.PathLike[str] | None = None, *, create: bool = False
) -> tuple[Path, bytes | None]:
    """(the discovered path, its bytes; None for a missing file)."""
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
            return path, None
    try:
        return path, path.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror}") from e


def decode_config(path: Path, raw: bytes) -> Any:
    """The YAML document in ``raw`` (read from ``path``, which errors name)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start})") from e
    import yaml  # not needed when the CLI's validated-config cache answers (config.cli_cache)

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: invalid YAML: {getattr(e, 'problem', e)}") from e
    return data


def env_log_level() -> str | None:
    """$LOG_LEVEL (upper-cased), checked: it beats ccproxy.log_level."""
    level = os.environ.get("LOG_LEVEL")
    if not level:
        return None
    level = level.upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL: invalid value {level!r} (valid: {', '.join(LOG_LEVELS)})")
    return level


def apply_env(config: Config) -> Config:
    """Environment overrides: LOG_LEVEL beats ccproxy.log_level."""
    level = env_log_level()
    if level:
        config.ccproxy.log_level = level  # type: ignore[assignment]
    return config
