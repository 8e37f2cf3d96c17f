"""The commented ccproxy.yaml that `ccproxy init` writes."""

from __future__ import annotations

import os
from pathlib import Path

TEMPLATE = """\
# ccproxy configuration. Every key is optional; the values shown are the defaults.
# Docs: README.md and docs/ in the ccproxy repository.
ccproxy:
  host: 127.0.0.1          # listeners and control endpoints bind loopback only
  port: 4000               # reverse-proxy listener: ANTHROPIC_BASE_URL=http://127.0.0.1:4000
  log_level: INFO          # LOG_LEVEL in the environment overrides this
  # log_file: ~/.config/ccproxy/ccproxy.log

  # Provider entries keyed by sentinel suffix: a client that sends the key
  # sk-ant-oat-ccproxy-{name} is routed to providers[name] and gets its real
  # credential injected. Without `auth`, the client's own key passes through.
  providers:
    anthropic:
      type: anthropic      # wire format: anthropic | openai | openai_responses | gemini
      host: api.anthropic.com
      path: /v1/messages
      # auth:
      #   type: anthropic_oauth            # share ~/.claude/.credentials.json with Claude Code
      #   file_path: ~/.claude/.credentials.json
    openai:
      type: openai
      host: api.openai.com
      path: /v1/chat/completions
      # auth:
      #   type: command
      #   command: "printenv OPENAI_API_KEY"
    openai_responses:
      type: openai_responses
      host: api.openai.com
      path: /v1/responses
    gemini:
      type: gemini
      host: generativelanguage.googleapis.com
      path: /v1beta/models
    # deepseek:
    #   type: anthropic
    #   host: api.deepseek.com
    #   path: /anthropic/v1/messages
    #   header: x-api-key
    #   auth:
    #     type: command
    #     command: "printenv DEEPSEEK_API_KEY"

  hooks:
    inbound:
      - ccproxy.hooks.inject_auth
      - ccproxy.hooks.extract_session_id
    outbound:
      - ccproxy.hooks.inject_mcp_notifications   # events from POST /mcp/notify (docs/mcp.md)
      - ccproxy.hooks.verbose_mode

  lightllm:
    # Regex override rules on top of the sentinel-driven providers map; first match wins.
    transforms: []
    # - match_path: ^/v1/chat/completions
    #   match_model: ^gpt-4o
    #   action: transform          # redirect | transform | passthrough
    #   dest_provider: anthropic
    #   dest_model: claude-haiku-4-5-20251001

  flows:
    default_jq_filters: []
    max_flows: 5000

  mcp:
    enabled: true
    host: 127.0.0.1        # a non-loopback host needs auth_token (or auth_token_file)
    port: 4030             # also served as /mcp on the proxy port
    # auth_token_file: ~/.config/ccproxy/mcp.token
    allow_reveal: false    # tools' reveal=true shows credentials only when this is true
    notify_ttl: 300        # seconds a /mcp/notify event waits for its session's next request

  inspector:
    wireguard: true        # listener for `ccproxy run --inspect`
    wireguard_port: 51820
    web: false             # mitmproxy's web UI on inspector.port
    port: 8083
    allow_origins: []      # web pages (scheme://host[:port]) allowed to call the listener
"""


def write_template(path: Path, *, force: bool = False) -> None:
    if path.exists() and not force:
        raise FileExistsError(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(TEMPLATE)
    os.replace(tmp, path)
