# The ccproxy.wsl distro: NixOS-WSL with ccproxy, the namespace jail's tools,
# systemd and a default user. flake.nix adds NixOS-WSL's module and
# modules/nixos.nix; nix/wsl.nix turns this system into the ccproxy.wsl file.
{ lib, pkgs, ... }:
{
  wsl = {
    enable = true;
    # The user `wsl -d ccproxy` logs in as (uid 1000, in wheel).
    defaultUser = "nixos";
    # NixOS-WSL runs systemd natively; ccproxy's user service and the jail need it.
    wslConf.boot.systemd = true;
    # Windows' DNS answers through WSL's own resolver; the jail brings its own.
    wslConf.network.generateResolvConf = true;
  };

  programs.ccproxy.enable = true;

  environment.systemPackages = with pkgs; [ curl jq git ];
  nix.settings.experimental-features = [ "nix-command" "flakes" ];
  networking.hostName = "ccproxy";

  system.stateVersion = lib.trivial.release;
}
