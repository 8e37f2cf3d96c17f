"""Turn the `hooks.inbound` / `hooks.outbound` config lists into configured hooks.

An entry is a dotted import path (`pkg.mod`, `pkg.mod.fn` or `pkg.mod:fn`) or a
mapping `{hook: path, params: {...}, enabled: bool}`. A module path picks the
module's hook named like the module, or its only hook.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from ccproxy.pipeline.spec import HookDefinitionError, HookSpec, ParamsError

ENTRY_KEYS = ("hook", "params", "enabled")


class HookConfigError(ValueError):
    """A hooks config entry is wrong; the message names the stage, the entry and the hook."""


@dataclass(slots=True)
class ConfiguredHook:
    spec: HookSpec
    source: str
    index: int
    enabled: bool = True
    params: dict[str, Any] = field(default_factory=dict)
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    def matches(self, token: str) -> bool:
        return token in (self.spec.name, self.source, self.spec.qualified_name)


def parse_entry(entry: Any, where: str) -> tuple[str, dict[str, Any], bool]:
    """(path, params, enabled) of one config entry; accepts pydantic models too."""
    if hasattr(entry, "model_dump"):
        entry = entry.model_dump()
    if isinstance(entry, str):
        if not entry.strip():
            raise HookConfigError(f"{where}: empty hook path")
        return entry.strip(), {}, True
    if not isinstance(entry, Mapping):
        raise HookConfigError(f"{where}: expected a dotted hook path or a mapping with 'hook', got {entry!r}")
    unknown = [k for k in entry if k not in ENTRY_KEYS]
    if unknown:
        raise HookConfigError(f"{where}.{unknown[0]}: unknown key (valid: {', '.join(ENTRY_KEYS)})")
    path = entry.get("hook")
    if not isinstance(path, str) or not path.strip():
        raise HookConfigError(f"{where}.hook: required, a dotted import path")
    params = entry.get("params") or {}
    if not isinstance(params, Mapping):
        raise HookConfigError(f"{where}.params ({path}): expected a mapping, got {type(params).__name__}")
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise HookConfigError(f"{where}.enabled ({path}): expected true or false")
    return path.strip(), dict(params), enabled


def _specs_in(module: ModuleType) -> list[HookSpec]:
    return [v for v in vars(module).values() if isinstance(v, HookSpec) and v.module == module.__name__]


def _from_module(module: ModuleType, path: str) -> HookSpec:
    named = getattr(module, path.rsplit(".", 1)[-1], None)
    if isinstance(named, HookSpec):
        return named
    specs = _specs_in(module)
    if len(specs) == 1:
        return specs[0]
    if not specs:
        raise HookConfigError(f"module {path!r} defines no @hook")
    names = ", ".join(s.name for s in specs)
    raise HookConfigError(f"module {path!r} defines several hooks ({names}); name one, e.g. {path}.{specs[0].name}")


def resolve(path: str) -> HookSpec:
    """Import the hook a dotted path names."""
    try:
        if ":" in path:
            mod_name, _, attr = path.partition(":")
            obj: Any = getattr(importlib.import_module(mod_name), attr, None)
            if obj is None:
                raise HookConfigError(f"cannot import hook {path!r}: {mod_name} has no attribute {attr!r}")
        else:
            try:
                return _from_module(importlib.import_module(path), path)
            except ModuleNotFoundError as e:
                if e.name != path or "." not in path:
                    raise
            mod_name, _, attr = path.rpartition(".")
            obj = getattr(importlib.import_module(mod_name), attr, None)
            if obj is None:
                raise HookConfigError(f"cannot import hook {path!r}: no module or attribute {attr!r} in {mod_name}")
    except HookConfigError:
        raise
    except ImportError as e:
        raise HookConfigError(f"cannot import hook {path!r}: {e}") from e
    except HookDefinitionError as e:
        raise HookConfigError(str(e)) from e
    except Exception as e:
        # A user module that fails while importing must not take the daemon down with a traceback.
        raise HookConfigError(f"cannot import hook {path!r}: {type(e).__name__}: {e}") from e
    if isinstance(obj, ModuleType):
        return _from_module(obj, path)
    if not isinstance(obj, HookSpec):
        raise HookConfigError(f"{path!r} is not a hook (decorate it with @ccproxy.pipeline.hook)")
    return obj


def load_stage(stage: str, entries: list[Any] | None) -> list[ConfiguredHook]:
    """Load and validate one stage's hooks; the first problem raises HookConfigError."""
    hooks: list[ConfiguredHook] = []
    for i, entry in enumerate(entries or []):
        where = f"hooks.{stage}[{i}]"
        path, params, enabled = parse_entry(entry, where)
        try:
            spec = resolve(path)
        except HookConfigError as e:
            raise HookConfigError(f"{where}: {e}") from e
        try:
            args, kwargs = spec.validate_params(params)
        except ParamsError as e:
            raise HookConfigError(f"{where}.params: hook {spec.name!r} ({path}): {e}") from e
        dup = next((h for h in hooks if h.name == spec.name), None)
        if dup is not None:
            raise HookConfigError(
                f"{where}: hook {spec.name!r} ({path}) is already listed at hooks.{stage}[{dup.index}]"
            )
        hooks.append(ConfiguredHook(spec, path, i, enabled, params, args, kwargs))
    return hooks
