"""What a flow's tokens cost: the `usage.prices` override table, else the genai-prices package
(its bundled snapshot; never updated over the network). None means "price unknown", never 0."""

from __future__ import annotations

import datetime
import warnings
from collections.abc import Mapping
from decimal import Decimal

from ccproxy.config.models import UsagePrice

# genai-prices' provider ids, by the wire format the upstream speaks (used when the host is not
# a provider API genai-prices knows, e.g. a local or private endpoint).
PROVIDER_ID = {"anthropic": "anthropic", "openai": "openai", "openai_responses": "openai", "gemini": "google"}
_LOCAL_HOSTS = ("127.", "localhost", "[::1]", "::1")
_MTOK = Decimal(1_000_000)


def override_price(
    price: UsagePrice, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int
) -> Decimal:
    """input_tokens counts every prompt token (cached ones included), as genai-prices does."""
    plain = max(input_tokens - cache_read - cache_write, 0)
    read_rate = price.cache_read if price.cache_read is not None else price.input
    write_rate = price.cache_write if price.cache_write is not None else price.input
    total = (
        plain * Decimal(str(price.input))
        + output_tokens * Decimal(str(price.output))
        + cache_read * Decimal(str(read_rate))
        + cache_write * Decimal(str(write_rate))
    )
    return total / _MTOK


class Pricer:
    def __init__(self, overrides: Mapping[str, UsagePrice]) -> None:
        self.overrides = dict(overrides)
        self._misses: set[tuple[str, str | None, str | None]] = set()

    def price(
        self,
        model: str | None,
        wire: str | None,
        host: str | None,
        tokens: tuple[int, int, int, int],
        at: float,
    ) -> Decimal | None:
        """``tokens``: (input incl. cached, output, cache read, cache write)."""
        if not model:
            return None
        if model in self.overrides:
            return override_price(self.overrides[model], *tokens)
        # Imported here: its price tables are ~6 MB of the daemon's RSS, and prices are asked
        # for only by the viewer, `ccproxy usage` and MCP (in worker threads, off the loop).
        from genai_prices import Usage, calc_price

        usage = Usage(
            input_tokens=tokens[0], output_tokens=tokens[1], cache_read_tokens=tokens[2], cache_write_tokens=tokens[3]
        )
        key = (model, wire, host)
        if key in self._misses:
            return None
        when = datetime.datetime.fromtimestamp(at, datetime.UTC)
        attempts: list[dict[str, str]] = []
        if host and not host.startswith(_LOCAL_HOSTS):
            attempts.append({"provider_api_url": f"https://{host}"})
        if wire in PROVIDER_ID:
            attempts.append({"provider_id": PROVIDER_ID[wire]})
        for where in attempts:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result = calc_price(usage, model, genai_request_timestamp=when, **where)  # type: ignore[call-overload]
                return result.total_price
            except LookupError:
                continue
        self._misses.add(key)
        return None
