# NixOS module: `programs.ccproxy`, the package, the namespace jail's tools and
# the kernel settings the rootless jail needs; optionally the daemon as a system
# service running as a named user.
{ config, lib, pkgs, ... }:
let
  cfg = config.programs.ccproxy;
  svc = cfg.service;
  settingsLib = import ../nix/settings.nix { inherit lib; };
  yaml = import ../nix/render-config.nix { inherit lib; inherit (svc) settings; };
  yamlFile = import ../nix/config-file.nix { inherit pkgs; inherit (cfg) package; text = yaml; check = svc.checkConfig; };
  stateDir = "/var/lib/ccproxy";
  configFile = "${stateDir}/ccproxy.yaml";
  # What `ccproxy run --inspect` calls (the package's wrapper has them too; these are for users' shells).
  jailTools = with pkgs; [ slirp4netns wireguard-tools wireguard-go iproute2 iptables util-linux procps ];
in
{
  options.programs.ccproxy = {
    enable = lib.mkEnableOption "ccproxy, the tools of its namespace jail and unprivileged user namespaces";

    package = lib.mkOption {
      type = lib.types.package;
      description = "The ccproxy package (the flake's modules default to the flake's own; elsewhere add `overlays.default`).";
      default = pkgs.ccproxy;
      defaultText = lib.literalExpression "pkgs.ccproxy";
    };

    service = {
      enable = lib.mkEnableOption "the ccproxy daemon as a system service running as `programs.ccproxy.service.user`";
      user = lib.mkOption {
        type = lib.types.nullOr lib.types.str;
        default = null;
        example = "alice";
        description = ''
          The user the daemon runs as. Its config, CA, flows and WireGuard keys live in
          ${stateDir} (owned by that user), and `CCPROXY_CONFIG_DIR` points every
          shell there, so that user's `ccproxy run --inspect` finds the daemon.
        '';
      };
      settings = settingsLib.option;
      checkConfig = lib.mkOption {
        type = lib.types.bool;
        default = true;
        description = "Build ccproxy.yaml only if ccproxy accepts it (`ccproxy status --mermaid`: the schema and the hook pipeline).";
      };
      environmentFile = lib.mkOption {
        type = lib.types.nullOr lib.types.str;
        default = null;
        description = "File of `NAME=value` lines for the service's environment (secrets for `command` auth), read at start, never in the store.";
      };
    };
  };

  config = lib.mkIf cfg.enable (lib.mkMerge [
    {
      environment.systemPackages = [ cfg.package ] ++ jailTools;
      # The jail runs unprivileged: it needs unprivileged user namespaces.
      # kernel.unprivileged_userns_clone exists on Debian-patched kernels only (NixOS
      # kernels allow them already); the leading "-" tells systemd-sysctl to skip the
      # key where the kernel lacks it.
      boot.kernel.sysctl = {
        "-kernel.unprivileged_userns_clone" = lib.mkDefault 1;
      } // lib.optionalAttrs config.security.apparmor.enable {
        # AppArmor (as on Ubuntu 24.04) restricts unprivileged namespaces unless told not to.
        "kernel.apparmor_restrict_unprivileged_userns" = lib.mkDefault 0;
      };
      # The jail's TUN device for wireguard-go.
      boot.kernelModules = [ "tun" ];
    }

    (lib.mkIf svc.enable {
      assertions = [
        {
          assertion = svc.user != null;
          message = "programs.ccproxy.service.user: must name the user the daemon runs as";
        }
      ] ++ map (message: { assertion = false; inherit message; })
        (settingsLib.authErrors "programs.ccproxy.service.settings" svc.settings);

      environment.variables.CCPROXY_CONFIG_DIR = stateDir;

      systemd.services.ccproxy = {
        description = "ccproxy: capture, steer and translate LLM client traffic";
        wantedBy = [ "multi-user.target" ];
        after = [ "network-online.target" ];
        wants = [ "network-online.target" ];
        restartTriggers = [ yamlFile ];
        path = jailTools;
        environment.CCPROXY_CONFIG_DIR = stateDir;
        serviceConfig = {
          User = svc.user;
          StateDirectory = "ccproxy";
          StateDirectoryMode = "0750";
          # The directory must stay writable (the CA lives beside the config), so the
          # store file is linked in rather than the directory being the store.
          ExecStartPre = "${pkgs.coreutils}/bin/ln -sfn ${yamlFile} ${configFile}";
          ExecStart = lib.escapeShellArgs [ "${cfg.package}/bin/ccproxy" "--config" configFile "start" ];
          Restart = "on-failure";
          RestartSec = 2;
          NoNewPrivileges = true;
          # "full", not "strict": OAuth auth sources write refreshed tokens back to
          # files in the user's home (~/.claude/.credentials.json).
          ProtectSystem = "full";
          PrivateTmp = true;
          ProtectKernelTunables = true;
          ProtectKernelModules = true;
          ProtectControlGroups = true;
          LockPersonality = true;
          RestrictRealtime = true;
          RestrictSUIDSGID = true;
          SystemCallArchitectures = "native";
          UMask = "0077";
        } // lib.optionalAttrs (svc.environmentFile != null) { EnvironmentFile = svc.environmentFile; };
      };
    })
  ]);
}
