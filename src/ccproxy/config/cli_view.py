"""What the CLI's client commands (`flows ...`, `run -- CMD`) use of a validated config: the
daemon's address, the state dir, the flows settings, the provider names. A plain dataclass
(config.cli_cache stores it), so that the code that only needs these (flows.client, the URL
helpers) does not depend on the models."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ccproxy.config.defaults import DEFAULT_HOST, DEFAULT_PERSIST, DEFAULT_PORT

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
    # The configured providers' names (`run --provider NAME` checks them).
    provider_names: tuple[str, ...] = ()

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
            provider_names=tuple(section.providers),
        )
