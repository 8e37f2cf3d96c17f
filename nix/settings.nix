# The typed `settings` option shared by the Home-Manager and NixOS modules.
#
# It mirrors ccproxy.yaml's `ccproxy:` section (src/ccproxy/config/models.py).
# Only the main keys are typed; every submodule is freeform, so keys declared
# here are checked by Nix and anything else is passed through for ccproxy to
# check when it starts. tests/nix/ keeps this file and the pydantic models in
# step (every option path exists there, defaults and enums agree).
#
# Options left at null are not written, so ccproxy's own default applies.
{ lib }:
let
  inherit (lib) mkOption types;

  vocab = {
    logLevels = [ "DEBUG" "INFO" "WARNING" "ERROR" "CRITICAL" ];
    wires = [ "anthropic" "openai" "openai_responses" "gemini" ];
    schemes = [ "https" "http" ];
    transformActions = [ "redirect" "transform" "passthrough" ];
    # Each auth type and the fields it accepts besides `type`.
    authFields = {
      command = [ "command" "timeout" ];
      file = [ "file_path" ];
      anthropic_oauth = oauthFields;
      google_oauth = oauthFields ++ [ "client_secret" ];
      codex_oauth = oauthFields ++ [ "account_id_path" "account_header" ];
    };
    # Fields an auth type cannot do without (the others have ccproxy defaults).
    authRequired = {
      command = [ "command" ];
      file = [ "file_path" ];
    };
  };

  oauthFields = [ "file_path" "access_path" "refresh_path" "expiry_path" "token_url" "client_id" "refresh_margin" ];

  # What the YAML can hold: the type of freeform keys.
  freeform = types.attrsOf types.anything;

  opt = type: default: description: mkOption { inherit type default description; };
  nullable = type: description: mkOption {
    type = types.nullOr type;
    default = null;
    description = "${description} null: ccproxy's default.";
  };
  section = options: types.submodule { freeformType = freeform; inherit options; };
  number = types.either types.int types.float;

  authType = types.submodule {
    freeformType = freeform;
    options = {
      type = mkOption {
        type = types.enum (lib.attrNames vocab.authFields);
        description = ''
          Where the credential comes from. `command` runs a shell command and uses its
          stdout; `file` reads a file (both read on every use, so an external secret
          manager can rotate them); the `*_oauth` types refresh an OAuth token file
          in-process.
        '';
      };
      command = nullable types.str "`command`: shell command printing the token (e.g. `cat /run/secrets/anthropic`).";
      timeout = nullable number "`command`: seconds before the command is killed.";
      file_path = nullable types.str "`file` and `*_oauth`: path of the token or credentials file (read at run time, never copied into the store).";
      access_path = nullable types.str "`*_oauth`: dotted path of the access token in the credentials JSON.";
      refresh_path = nullable types.str "`*_oauth`: dotted path of the refresh token.";
      expiry_path = nullable types.str "`*_oauth`: dotted path of the expiry time.";
      token_url = nullable types.str "`*_oauth`: the OAuth token endpoint.";
      client_id = nullable types.str "`*_oauth`: the OAuth client id.";
      refresh_margin = nullable number "`*_oauth`: refresh this many seconds before expiry.";
      client_secret = nullable types.str "`google_oauth`: the installed-app client secret.";
      account_id_path = nullable types.str "`codex_oauth`: dotted path of the account id.";
      account_header = nullable types.str "`codex_oauth`: header that carries the account id.";
    };
  };

  providerType = section {
    type = opt (types.enum vocab.wires) "anthropic" "Wire format the provider speaks.";
    host = mkOption {
      type = types.str;
      description = "Provider host, optionally with a port (`127.0.0.1:8080`).";
    };
    path = nullable types.str "Base path of the API (default: the wire format's).";
    scheme = opt (types.enum vocab.schemes) "https" "URL scheme of the provider.";
    header = nullable types.str "Header that carries the real credential (default: the wire format's).";
    auth = nullable authType "Credential source that replaces the client's sentinel key.";
  };

  hookEntry = types.submodule {
    options = {
      hook = mkOption { type = types.str; description = "Hook name (module path)."; };
      params = opt (types.attrsOf types.anything) { } "Parameters passed to the hook.";
      enabled = opt types.bool true "Whether the hook runs.";
    };
  };
  hookSpec = types.either types.str hookEntry;
  hookList = description: nullable (types.listOf hookSpec) "${description} Each entry is a hook name or `{ hook, params, enabled }`.";

  transformRule = section {
    match_host = nullable types.str "Host (regex) the rule matches.";
    match_path = opt types.str ".*" "Path (regex) the rule matches.";
    match_model = nullable types.str "Model (regex) the rule matches.";
    action = opt (types.enum vocab.transformActions) "redirect" "What a matching request gets.";
    dest_provider = nullable types.str "Provider (a key of `providers`) the request goes to.";
    dest_model = nullable types.str "Model name to send instead.";
  };

  settingsType = section {
    host = opt types.str "127.0.0.1" "Address the reverse-proxy listener and control endpoints bind.";
    port = opt types.port 4000 "Port of the reverse-proxy listener.";
    log_level = opt (types.enum vocab.logLevels) "INFO" "Log level.";
    log_file = nullable types.str "Log file (default: `ccproxy.log` in the state directory).";
    state_dir = nullable types.str "Flows, WireGuard keys and keylogs (default: the config directory).";
    providers = nullable (types.attrsOf providerType) ''
      Providers by name. Leaving it unset keeps the built-in pass-through providers
      (anthropic, openai, openai_responses, gemini).
    '';
    hooks = mkOption {
      default = { };
      description = "The hook pipeline.";
      type = section {
        inbound = hookList "Hooks that run on the request before it is transformed.";
        outbound = hookList "Hooks that run on the request after it is transformed.";
      };
    };
    lightllm = mkOption {
      default = { };
      description = "Routing and translation between wire formats.";
      type = section {
        transforms = opt (types.listOf transformRule) [ ] "Route rules, first match wins.";
      };
    };
    flows = mkOption {
      default = { };
      description = "The flow store.";
      type = section {
        default_jq_filters = opt (types.listOf types.str) [ ] "jq filters applied to every flow listing.";
        max_flows = opt types.ints.positive 5000 "Flows kept before the oldest are dropped.";
        max_bytes = opt (types.ints.between 1024 (1024 * 1024 * 1024 * 1024)) (256 * 1024 * 1024) "Bytes of flows kept before the oldest are dropped.";
        persist = opt types.bool true "Keep flows in SQLite across restarts.";
        store_secrets = opt types.bool false "Keep credential headers, cookies and `?key=` in flows.db (default: markers at rest).";
      };
    };
    inspector = mkOption {
      default = { };
      description = "The WireGuard jail listener and the inspector UI.";
      type = section {
        web = opt types.bool false "Serve mitmproxy's web UI on loopback.";
        port = opt types.port 8083 "Port of the web UI.";
        web_max_flows = opt types.ints.positive 500 "Newest flows the web UI holds in memory.";
        wireguard = opt types.bool true "Run the WireGuard listener that `ccproxy run --inspect` jails connect to.";
        wireguard_port = opt types.port 51820 "First WireGuard listener port.";
        wireguard_slots = opt (types.ints.between 1 32) 4 "Concurrent jails (one WireGuard listener each).";
        resolve = opt (types.attrsOf types.str) { } ''Host → `address[:port]` overrides for DNS answers and upstream connects (like `curl --resolve`).'';
        keylog = opt types.bool false "Write WireGuard and TLS keylogs to the state directory.";
        ssl_verify = opt types.bool true "Verify upstream TLS certificates.";
      };
    };
  };

  # Messages for auth entries whose fields do not fit their type, for the modules' assertions.
  authErrors = prefix: settings:
    lib.concatLists (lib.mapAttrsToList
      (name: provider:
        let
          auth = provider.auth or null;
          where = "${prefix}.providers.${name}.auth";
          allowed = vocab.authFields.${auth.type} or [ ];
          set = lib.filter (k: k != "type" && auth.${k} != null) (lib.attrNames auth);
          stray = lib.filter (k: !lib.elem k allowed) set;
          missing = lib.filter (k: auth.${k} or null == null) (vocab.authRequired.${auth.type} or [ ]);
        in
        lib.optionals (auth != null) (
          map (k: "${where}.${k}: not a field of auth type \"${auth.type}\" (valid: ${lib.concatStringsSep ", " allowed})") stray
          ++ map (k: "${where}.${k}: required for auth type \"${auth.type}\"") missing
        ))
      (if settings.providers or null == null then { } else settings.providers));
in
{
  inherit vocab settingsType authErrors;

  option = mkOption {
    type = settingsType;
    default = { };
    description = ''
      ccproxy.yaml's `ccproxy:` section as Nix values. Typed keys are checked at
      evaluation; other keys pass through unchanged (ccproxy rejects unknown ones
      when it starts). Secrets belong in `auth` sources that read them at run
      time (`command`, `file`), never in these values: they are copied into the
      world-readable Nix store.
    '';
    example = lib.literalExpression ''
      {
        port = 4000;
        providers.anthropic = {
          host = "api.anthropic.com";
          auth = { type = "command"; command = "cat /run/secrets/anthropic-key"; };
        };
        inspector.resolve."api.anthropic.com" = "127.0.0.1:8443";
      }
    '';
  };
}
