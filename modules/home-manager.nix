# Home-Manager module: `services.ccproxy`, the daemon as a systemd user service.
#
# The flake's `homeModules.ccproxy` defaults `package` to the flake's build;
# imported on its own, the default is `pkgs.ccproxy` (the flake's overlay).
{ config, lib, pkgs, ... }:
let
  cfg = config.services.ccproxy;
  settingsLib = import ../nix/settings.nix { inherit lib; };
  yaml = import ../nix/render-config.nix { inherit lib; inherit (cfg) settings; };
  yamlFile = import ../nix/config-file.nix { inherit pkgs; inherit (cfg) package; text = yaml; check = cfg.checkConfig; };

  home = config.home.homeDirectory;
  xdgDir = "${config.xdg.configHome}/ccproxy";
  configFile = "${cfg.configDir}/ccproxy.yaml";
  # home.file targets are relative to $HOME.
  relTarget = lib.removePrefix "${home}/" configFile;

  execStart = lib.escapeShellArgs ([ "${cfg.package}/bin/ccproxy" "--config" configFile "start" ] ++ cfg.extraArgs);
in
{
  options.services.ccproxy = {
    enable = lib.mkEnableOption "the ccproxy daemon (a systemd user service)";

    package = lib.mkOption {
      type = lib.types.package;
      description = "The ccproxy package (the flake's modules default to the flake's own build; elsewhere add `overlays.default`). Its wrapper puts the namespace jail's tools on PATH.";
      default = pkgs.ccproxy;
      defaultText = lib.literalExpression "pkgs.ccproxy";
    };

    settings = settingsLib.option;

    configDir = lib.mkOption {
      type = lib.types.str;
      default = xdgDir;
      defaultText = lib.literalExpression ''"''${config.xdg.configHome}/ccproxy"'';
      description = ''
        Directory of ccproxy.yaml, the mitmproxy CA and (unless `settings.state_dir`
        is set) the flows and WireGuard keys. It must be inside the home directory;
        only ccproxy.yaml is managed, the rest is written by the daemon.
      '';
    };

    checkConfig = lib.mkOption {
      type = lib.types.bool;
      default = true;
      description = ''
        Build ccproxy.yaml only if ccproxy accepts it (`ccproxy status --mermaid` on the
        file: the config schema and the hook pipeline). Turn off if `hooks` name modules
        that exist only in `configDir`/hooks at run time.
      '';
    };

    extraArgs = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      description = "Extra arguments appended to `ccproxy --config … start`.";
    };

    environmentFile = lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      default = null;
      example = "/run/user/1000/secrets/ccproxy.env";
      description = ''
        File of `NAME=value` lines loaded into the service's environment (systemd
        `EnvironmentFile=`), read at start and never copied into the store: the place
        for secrets that `command` auth sources read (`command = "printenv ANTHROPIC_KEY"`).
      '';
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = lib.hasPrefix "${home}/" configFile;
        message = "services.ccproxy.configDir: ${cfg.configDir} is not inside the home directory ${home}";
      }
    ] ++ map (message: { assertion = false; inherit message; })
      (settingsLib.authErrors "services.ccproxy.settings" cfg.settings);

    home.packages = [ cfg.package ];

    xdg.configFile = lib.mkIf (cfg.configDir == xdgDir) { "ccproxy/ccproxy.yaml".source = yamlFile; };
    home.file = lib.mkIf (cfg.configDir != xdgDir) { ${relTarget}.source = yamlFile; };
    # So that `ccproxy status`, `flows` and `run --inspect` in the user's shells find this daemon.
    home.sessionVariables = lib.mkIf (cfg.configDir != xdgDir) { CCPROXY_CONFIG_DIR = cfg.configDir; };

    systemd.user.services.ccproxy = {
      Unit = {
        Description = "ccproxy: capture, steer and translate LLM client traffic";
        # A changed ccproxy.yaml changes the unit, so switching restarts the daemon.
        X-Restart-Triggers = [ "${yamlFile}" ];
      };
      Service = {
        ExecStart = execStart;
        Environment = [ "CCPROXY_CONFIG_DIR=${cfg.configDir}" ];
        Restart = "on-failure";
        RestartSec = 2;
        # Hardening that keeps the jail and auth commands working. The jail's namespaces
        # are made by `ccproxy run --inspect` in the user's shell, not by the daemon, but
        # the daemon runs `command` auth sources (secret-manager CLIs), so no
        # ProtectSystem/PrivateUsers: in a user manager those put the daemon in its own
        # user namespace, where such CLIs and the jail's key files misbehave.
        NoNewPrivileges = true;
        LockPersonality = true;
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        SystemCallArchitectures = "native";
        UMask = "0077";
      } // lib.optionalAttrs (cfg.environmentFile != null) { EnvironmentFile = cfg.environmentFile; };
      Install.WantedBy = [ "default.target" ];
    };
  };
}
