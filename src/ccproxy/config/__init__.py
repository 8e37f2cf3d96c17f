"""ccproxy.yaml: models, discovery and the init template.

The names below are loaded on first use (PEP 562): the models need pydantic, and the CLI's
read-only commands import ``ccproxy.config.client`` without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ccproxy.config.loader import ConfigError, discover_config_path, load_config, parse_config
    from ccproxy.config.models import Config, Provider

_WHERE = {
    "Config": "ccproxy.config.models",
    "Provider": "ccproxy.config.models",
    "ConfigError": "ccproxy.config.loader",
    "discover_config_path": "ccproxy.config.loader",
    "load_config": "ccproxy.config.loader",
    "parse_config": "ccproxy.config.loader",
}

__all__ = ["Config", "ConfigError", "Provider", "discover_config_path", "load_config", "parse_config"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
