"""ccproxy.yaml: models, discovery and the init template."""

from ccproxy.config.loader import ConfigError, discover_config_path, load_config, parse_config
from ccproxy.config.models import Config, Provider

__all__ = ["Config", "ConfigError", "Provider", "discover_config_path", "load_config", "parse_config"]
