"""Pydantic models of ccproxy.yaml.

Every model forbids unknown keys: a typo in a config file is an error that
names the key path, never a silently ignored setting.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ccproxy.access.local import normalize_origin
from ccproxy.config.addresses import check_hostport
from ccproxy.config.defaults import DEFAULT_HOST, DEFAULT_PERSIST, DEFAULT_PORT

if TYPE_CHECKING:
    from ccproxy.lightllm.ir import Wire

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
# "host[:port]", checked where it is read: a typo is a config error, not a hung request.
HostPort = Annotated[str, AfterValidator(check_hostport)]

# Config sections of features that are not built yet: enabling one is an error naming the key,
# never a setting silently ignored. The engineer who lands a feature deletes its entry.
UNBUILT_FEATURES: dict[str, str] = {}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- auth sources -----------------------------------------------------------


class CommandAuth(Strict):
    type: Literal["command"]
    command: str
    # Seconds before the command (and its children) are killed and the request fails.
    timeout: float = Field(default=10.0, gt=0)


class FileAuth(Strict):
    type: Literal["file"]
    file_path: str


class OAuthBase(Strict):
    file_path: str
    access_path: str
    refresh_path: str
    expiry_path: str
    token_url: str
    client_id: str
    # Refresh this many seconds before expiry (the seeds' 60 s window).
    refresh_margin: float = Field(default=60.0, ge=0)


class AnthropicOAuth(OAuthBase):
    type: Literal["anthropic_oauth"]
    file_path: str = "~/.claude/.credentials.json"
    access_path: str = "claudeAiOauth.accessToken"
    refresh_path: str = "claudeAiOauth.refreshToken"
    expiry_path: str = "claudeAiOauth.expiresAt"
    token_url: str = "https://console.anthropic.com/v1/oauth/token"
    client_id: str = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"


class GoogleOAuth(OAuthBase):
    type: Literal["google_oauth"]
    file_path: str = "~/.gemini/oauth_creds.json"
    access_path: str = "access_token"
    refresh_path: str = "refresh_token"
    expiry_path: str = "expiry_date"
    token_url: str = "https://oauth2.googleapis.com/token"
    # gemini-cli's installed-app client; Google documents installed-app secrets as non-confidential.
    client_id: str = "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com"
    client_secret: str | None = None


class CodexOAuth(OAuthBase):
    type: Literal["codex_oauth"]
    file_path: str = "~/.codex/auth.json"
    access_path: str = "tokens.access_token"
    refresh_path: str = "tokens.refresh_token"
    # Codex's file has no expiry field: the access token is a JWT and its `exp` claim is used.
    expiry_path: str = ""
    account_id_path: str = "tokens.account_id"
    account_header: str = "chatgpt-account-id"
    token_url: str = "https://auth.openai.com/oauth/token"
    client_id: str = "app_EMoamEEZ73f0CkXaXp7hrann"


AuthConfig = Annotated[
    CommandAuth | FileAuth | AnthropicOAuth | GoogleOAuth | CodexOAuth,
    Field(discriminator="type"),
]

# --- providers & routing ----------------------------------------------------

DEFAULT_PATHS: dict[str, str] = {
    "anthropic": "/v1/messages",
    "openai": "/v1/chat/completions",
    "openai_responses": "/v1/responses",
    "gemini": "/v1beta/models",
    # Perplexity serves Chat Completions at the root (docs.perplexity.ai).
    "perplexity": "/chat/completions",
}


# Provider types beyond the four wires: `perplexity` is Perplexity's documented API (OpenAI Chat
# Completions plus search_results/citations), so it speaks the `openai` wire.
ProviderType = Literal["anthropic", "openai", "openai_responses", "gemini", "perplexity"]
PROVIDER_WIRE: dict[str, Wire] = {"perplexity": "openai"}
# What the seeds called their Perplexity Pro web-subscription provider: declined on purpose.
DECLINED_PROVIDER_TYPES = ("perplexity_pro", "perplexity_web")
DECLINED_WEB_HOSTS = ("www.perplexity.ai", "perplexity.ai")
DECLINED_WEB_MESSAGE = (
    "Perplexity's consumer web subscription (the seeds' Perplexity Pro provider) is declined on purpose: "
    "ccproxy does not scrape private web endpoints; use `type: perplexity` with an API key from "
    "api.perplexity.ai (docs/providers.md)"
)
# curl-cffi transport, per provider (see ccproxy.transport).
TransportName = Literal["mitmproxy", "curl_cffi"]


class RetryPolicy(Strict):
    """Retry on the same model, then walk fallback models (any provider's `retry:`)."""

    enabled: bool = True
    codes: list[int] = Field(default_factory=lambda: [429, 529, 503])
    # Attempts on the same model after the first answer (RetryInfo.retryDelay / retry-after honoured).
    attempts: int = Field(default=2, ge=0, le=20)
    # Seconds of waiting allowed in total, across all attempts of one request.
    budget_seconds: float = Field(default=30.0, ge=0)
    fallback_models: list[str] = Field(default_factory=list)


class Provider(Strict):
    type: ProviderType = "anthropic"
    # host may carry a port ("127.0.0.1:8080") so a provider can point at a local server.
    host: HostPort
    path: str | None = None
    scheme: Literal["https", "http"] = "https"
    # Header that carries the real credential; None = the wire type's default slot.
    header: str | None = None
    auth: AuthConfig | None = None
    # Send this provider's flows with curl-cffi, impersonating a browser's TLS/HTTP2 fingerprint
    # (a curl-cffi target name, e.g. chrome136); `transport: curl_cffi` alone uses curl-cffi's default.
    fingerprint_profile: str | None = None
    transport: TransportName | None = None
    # PEM bundle trusted (in addition to the system CAs) for this provider's TLS.
    ca_bundle: str | None = None
    retry: RetryPolicy | None = None

    @model_validator(mode="before")
    @classmethod
    def _declined(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if data.get("type") in DECLINED_PROVIDER_TYPES:
                raise ValueError(f"type {data['type']!r}: {DECLINED_WEB_MESSAGE}")
            host = str(data.get("host") or "").lower().rsplit(":", 1)[0]
            if data.get("type") == "perplexity" and host in DECLINED_WEB_HOSTS:
                raise ValueError(f"host {data['host']!r}: {DECLINED_WEB_MESSAGE}")
        return data

    @model_validator(mode="after")
    def _check_transport(self) -> Provider:
        if self.fingerprint_profile is not None:
            from ccproxy.transport.profiles import check_profile

            check_profile(self.fingerprint_profile)
            if self.transport is None:
                self.transport = "curl_cffi"
            elif self.transport != "curl_cffi":
                raise ValueError("fingerprint_profile needs transport: curl_cffi (or no transport key)")
        return self

    @property
    def wire(self) -> Wire:
        """The wire format this provider speaks."""
        return PROVIDER_WIRE[self.type] if self.type in PROVIDER_WIRE else cast("Wire", self.type)

    @property
    def uses_curl_cffi(self) -> bool:
        return self.transport == "curl_cffi"

    @property
    def hostname(self) -> str:
        return self.host.rsplit(":", 1)[0] if self._has_port() else self.host

    @property
    def port(self) -> int:
        if self._has_port():
            return int(self.host.rsplit(":", 1)[1])
        return 443 if self.scheme == "https" else 80

    def _has_port(self) -> bool:
        head, sep, tail = self.host.rpartition(":")
        # "::1" is an address without a port; "[::1]:8080" has one.
        return bool(sep) and tail.isdigit() and (":" not in head or head.endswith("]"))

    @property
    def base_path(self) -> str:
        return self.path if self.path is not None else DEFAULT_PATHS[self.type]


def builtin_providers() -> dict[str, Provider]:
    """Used when the config names no providers: clients' own keys pass through unchanged."""
    return {
        "anthropic": Provider(type="anthropic", host="api.anthropic.com"),
        "openai": Provider(type="openai", host="api.openai.com"),
        "openai_responses": Provider(type="openai_responses", host="api.openai.com"),
        "gemini": Provider(type="gemini", host="generativelanguage.googleapis.com"),
    }


class HookEntry(Strict):
    hook: str
    params: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True


HookSpec = str | HookEntry


def _default_inbound() -> list[HookSpec]:
    return ["ccproxy.hooks.inject_auth", "ccproxy.hooks.extract_session_id"]


def _default_outbound() -> list[HookSpec]:
    return ["ccproxy.hooks.inject_mcp_notifications", "ccproxy.hooks.verbose_mode"]


class Hooks(Strict):
    inbound: list[HookSpec] = Field(default_factory=_default_inbound)
    outbound: list[HookSpec] = Field(default_factory=_default_outbound)


class TransformRule(Strict):
    match_host: str | None = None
    match_path: str = ".*"
    match_model: str | None = None
    action: Literal["redirect", "transform", "passthrough"] = "redirect"
    dest_provider: str | None = None
    dest_model: str | None = None

    @field_validator("match_host", "match_path", "match_model")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        # Checked here so that `ccproxy status` refuses what `ccproxy start` would.
        if value is not None:
            try:
                re.compile(value)
            except re.error as e:
                raise ValueError(f"invalid regex {value!r}: {e}") from None
        return value


class Lightllm(Strict):
    transforms: list[TransformRule] = Field(default_factory=list)
    # Seconds an upstream stream may stay silent before the client gets an error event.
    stream_idle_timeout: float = Field(default=300.0, gt=0)


class Inspector(Strict):
    # mitmproxy's web UI (off by default), bound to loopback.
    web: bool = False
    port: int = Field(default=8083, ge=0, le=65535)
    # The web UI holds (in memory) at most this many of the newest flows.
    web_max_flows: int = Field(default=500, ge=1)
    wireguard: bool = True
    wireguard_port: int = Field(default=51820, ge=1, le=65535)
    # Concurrent jails: one WireGuard listener (and key pair) each, on wireguard_port + 0..N-1.
    wireguard_slots: int = Field(default=4, ge=1, le=32)
    # host -> "address[:port]" overrides (like curl --resolve) for DNS answers and upstream connects.
    resolve: dict[str, HostPort] = Field(default_factory=dict)
    keylog: bool = False
    # Older spelling of lightllm.transforms, accepted and merged.
    transforms: list[TransformRule] = Field(default_factory=list)
    # Verify upstream TLS certificates (turn off only for local test upstreams).
    ssl_verify: bool = True
    # Web origins (scheme://host[:port]) whose pages may call the listener; every other
    # foreign Origin is refused with 403 (docs/security.md).
    allow_origins: list[str] = Field(default_factory=list)

    @field_validator("allow_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return [normalize_origin(o) for o in value]

    # PEM bundle trusted for upstream TLS in addition to the system CAs (a corporate TLS proxy,
    # a self-signed local mock), so that ssl_verify can stay on.
    upstream_ca: str | None = None


class Flows(Strict):
    default_jq_filters: list[str] = Field(default_factory=list)
    max_flows: int = Field(default=5000, ge=1)
    max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    persist: bool = DEFAULT_PERSIST
    # Keep credential headers, cookies and ?key= in flows.db (default: markers at rest).
    store_secrets: bool = False


class Otel(Strict):
    enabled: bool = False
    # None: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT, else http://127.0.0.1:4318.
    endpoint: str | None = None
    # None: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf.
    protocol: Literal["grpc", "http/protobuf"] | None = None
    # Added to OTEL_EXPORTER_OTLP_HEADERS (these win on a clash).
    headers: dict[str, str] = Field(default_factory=dict)
    service_name: str = "ccproxy"
    # Prompt and response bodies on spans (credentials redacted); off: metadata and usage only.
    capture_content: bool = False


class UsagePrice(Strict):
    """USD per million tokens, for a model genai-prices does not know (or priced privately)."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    # Default: the input price (what a provider without prompt caching charges).
    cache_read: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)


class UsageReport(Strict):
    # model name (as the client sent it) -> price; wins over genai-prices.
    prices: dict[str, UsagePrice] = Field(default_factory=dict)


class Mcp(Strict):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=4030, ge=0, le=65535)
    # Bearer token MCP clients must send; required when `host` is not a loopback address.
    auth_token: str | None = None
    auth_token_file: str | None = None
    # Tools' `reveal` parameter shows credentials only when this is also set.
    allow_reveal: bool = False
    # POST /mcp/notify: seconds a buffered event waits for its session's next request.
    notify_ttl: float = Field(default=300.0, gt=0)
    notify_max_per_session: int = Field(default=64, ge=1)

    @model_validator(mode="after")
    def _one_token_source(self) -> Mcp:
        if self.auth_token and self.auth_token_file:
            raise ValueError("set mcp.auth_token or mcp.auth_token_file, not both")
        return self


# How a shape's field and the incoming request's field combine (docs/shapes.md).
_MERGE_STRATEGY = re.compile(r"^(replace|drop|prepend_shape|append_shape)(:\d+)?$")


def _merge_strategy(value: str) -> str:
    if not _MERGE_STRATEGY.match(value):
        raise ValueError(
            f"invalid strategy {value!r} (valid: replace, drop, prepend_shape, append_shape, each optionally with :N)"
        )
    return value


def _fresh_path(value: str) -> str:
    if not (value.startswith(("headers.", "body."))) or value.endswith("."):
        raise ValueError(f"{value!r} must be 'headers.NAME' or 'body.PATH'")
    return value


def _regex(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as e:
            raise ValueError(f"invalid regex {value!r}: {e}") from e
    return value


MergeStrategy = Annotated[str, AfterValidator(_merge_strategy)]
FreshPath = Annotated[str, AfterValidator(_fresh_path)]
FreshKind = Literal["uuid", "request_id", "timestamp", "timestamp_ms", "session_uuid"]


class ShapeCapture(Strict):
    # Which captured requests may become this provider's shape (`shapes save`); None = the
    # wire type's generation endpoint.
    path_pattern: Annotated[str | None, AfterValidator(_regex)] = None


class ShapeProfile(Strict):
    # Body keys taken from the incoming request; None = the wire type's defaults.
    content_fields: list[str] | None = None
    merge_strategies: dict[str, MergeStrategy] = Field(default_factory=dict)
    preserve_headers: list[str] = Field(default_factory=list)
    strip_headers: list[str] = Field(default_factory=list)
    # "headers.NAME" or "body.dotted.path" -> how to regenerate it per request.
    fresh: dict[FreshPath, FreshKind] = Field(default_factory=dict)
    capture: ShapeCapture = Field(default_factory=ShapeCapture)


class Shaping(Strict):
    enabled: bool = True
    # Where `{provider}.mflow` shapes live; default: `<config dir>/shapes`.
    shapes_dir: str | None = None
    # Use the shapes packaged with ccproxy when no local one exists.
    packaged: bool = True
    # Seconds between looks at a shape file for changes (0: before every request).
    reload_seconds: float = Field(default=2.0, ge=0)
    providers: dict[str, ShapeProfile] = Field(default_factory=dict)


class GeminiCapacity(Strict):
    """Capacity fallback for Gemini via Code Assist (flows the gemini_cli hook wrapped)."""

    enabled: bool = True
    codes: list[int] = Field(default_factory=lambda: [429, 503])
    # Older spelling: max_retries.
    sticky_retry_attempts: int = Field(
        default=2, ge=0, le=20, validation_alias=AliasChoices("sticky_retry_attempts", "max_retries")
    )
    total_retry_budget_seconds: float = Field(default=30.0, ge=0)
    fallback_models: list[str] = Field(default_factory=list)

    def policy(self) -> RetryPolicy:
        return RetryPolicy(
            enabled=self.enabled,
            codes=self.codes,
            attempts=self.sticky_retry_attempts,
            budget_seconds=self.total_retry_budget_seconds,
            fallback_models=self.fallback_models,
        )


class CcproxySection(Strict):
    host: str = DEFAULT_HOST
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    log_level: LogLevel = "INFO"
    log_file: str | None = None
    # Flows file, WireGuard keys, keylogs; default: the config directory.
    state_dir: str | None = None
    providers: dict[str, Provider] = Field(default_factory=builtin_providers)
    hooks: Hooks = Field(default_factory=Hooks)
    lightllm: Lightllm = Field(default_factory=Lightllm)
    inspector: Inspector = Field(default_factory=Inspector)
    flows: Flows = Field(default_factory=Flows)
    otel: Otel = Field(default_factory=Otel)
    usage: UsageReport = Field(default_factory=UsageReport)
    mcp: Mcp = Field(default_factory=Mcp)
    shaping: Shaping = Field(default_factory=Shaping)
    gemini_capacity: GeminiCapacity = Field(default_factory=GeminiCapacity)
    # Reliability limits (docs/reliability.md). Seconds; 0 turns a timeout or limit off.
    # Upstream TCP connect + TLS handshake; then the request sent -> the response headers (a non-streamed answer
    # arrives whole, so this bounds its generation time too). Both well under the SDKs' 600 s.
    upstream_connect_timeout: float = Field(default=10.0, ge=0)
    upstream_read_timeout: float = Field(default=300.0, ge=0)
    # Largest request body accepted (413 in the client's format above it, nothing buffered).
    max_body_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    # Client connections: time to send the request headers (slow-loris), idle keep-alive time,
    # and how many may be open at once (503 above; capped further by the open-files limit).
    header_timeout: float = Field(default=30.0, ge=0)
    keepalive_timeout: float = Field(default=120.0, ge=0)
    max_connections: int = Field(default=1024, ge=1)
    # SIGTERM/SIGINT: in-flight requests get this long to finish, then an error in their format.
    shutdown_grace: float = Field(default=10.0, ge=0)

    if UNBUILT_FEATURES:  # field validators run only on sections the file sets

        @field_validator(*UNBUILT_FEATURES)
        @classmethod
        def _refuse_unbuilt(cls, value: Any, info: ValidationInfo) -> Any:
            name = info.field_name or "?"
            if getattr(value, "enabled", False):
                raise ValueError(
                    f"not built yet ({UNBUILT_FEATURES[name]}): remove the `{name}` section or set enabled: false"
                )
            return value

    @model_validator(mode="after")
    def _check_rules(self) -> CcproxySection:
        for i, rule in enumerate(self.transform_rules):
            if rule.dest_provider and rule.dest_provider not in self.providers:
                known = ", ".join(sorted(self.providers)) or "none configured"
                raise ValueError(
                    f"transforms[{i}].dest_provider: unknown provider {rule.dest_provider!r} (configured: {known})"
                )
        return self

    @property
    def transform_rules(self) -> list[TransformRule]:
        return [*self.lightllm.transforms, *self.inspector.transforms]


class Config(Strict):
    ccproxy: CcproxySection = Field(default_factory=CcproxySection)
    # Where this config was read from; the directory holds the CA and (by default) the state.
    _config_dir: Path = PrivateAttr(default=Path("."))

    @property
    def config_dir(self) -> Path:
        return self._config_dir

    @property
    def state_dir(self) -> Path:
        raw = self.ccproxy.state_dir
        return Path(raw).expanduser() if raw else self.config_dir

    @property
    def shapes_dir(self) -> Path:
        raw = self.ccproxy.shaping.shapes_dir
        return Path(raw).expanduser() if raw else self.config_dir / "shapes"
