"""What the CLI's client commands (`flows ...`, `run -- CMD`) read from ccproxy.yaml, without
pydantic: building the config models costs more than the rest of such a command.

Only the keys they use are read. When each is absent or of the plain type the models would
accept as it is, the view is built from the YAML directly; any other value (a string port, a
null section, an unknown top-level key) goes through the full validation in ``load_config``,
so the command gets exactly the value or the one-line error that `ccproxy start` would give.
Keys the view does not read are validated by the commands that use them (`start`, `status`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ccproxy.config.defaults import DEFAULT_HOST, DEFAULT_PERSIST, DEFAULT_PORT
from ccproxy.config.loader import env_log_level, load_config, read_config_data

if TYPE_CHECKING:
    from ccproxy.config.models import Config


@dataclass(frozen=True)
class CliView:
    config_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    state_dir_setting: str | None = None
    persist: bool = DEFAULT_PERSIST
    default_jq_filters: tuple[str, ...] = ()

    @property
    def state_dir(self) -> Path:  # the same rule as Config.state_dir
        return Path(self.state_dir_setting).expanduser() if self.state_dir_setting else self.config_dir

    @classmethod
    def from_config(cls, config: Config) -> CliView:
        section = config.ccproxy
        return cls(
            config_dir=config.config_dir,
            host=section.host,
            port=section.port,
            state_dir_setting=section.state_dir,
            persist=section.flows.persist,
            default_jq_filters=tuple(section.flows.default_jq_filters),
        )


def _plain(data: Any, config_dir: Path) -> CliView | None:
    """The view when every key it reads is absent or plainly valid; None otherwise."""
    if data is None:
        return CliView(config_dir)
    if not isinstance(data, dict) or set(data) - {"ccproxy"}:
        return None
    section = data.get("ccproxy", {})
    if not isinstance(section, dict):
        return None
    flows = section.get("flows", {})
    host = section.get("host", DEFAULT_HOST)
    port = section.get("port", DEFAULT_PORT)
    state_dir = section.get("state_dir")
    if not isinstance(flows, dict):
        return None
    persist = flows.get("persist", DEFAULT_PERSIST)
    filters = flows.get("default_jq_filters", [])
    if (
        not isinstance(host, str)
        or type(port) is not int
        or not 0 <= port <= 65535
        or not (state_dir is None or isinstance(state_dir, str))
        or not isinstance(persist, bool)
        or not isinstance(filters, list)
        or not all(isinstance(f, str) for f in filters)
    ):
        return None
    return CliView(config_dir, host, port, state_dir, persist, tuple(filters))


def read_cli_view(explicit: str | os.PathLike[str] | None = None) -> CliView:
    """The discovered config's view; raises ConfigError like ``load_config``."""
    path, data = read_config_data(explicit)
    env_log_level()  # a bad $LOG_LEVEL is refused here too
    view = _plain(data, path.parent)
    return view if view is not None else CliView.from_config(load_config(explicit))
