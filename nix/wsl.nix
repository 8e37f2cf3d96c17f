# `nix build .#wsl` → result/ccproxy.wsl, the distro file that
# `wsl --install --from-file ccproxy.wsl` installs (Store WSL 2.4.4 or newer).
#
# A .wsl file is a gzipped tar of the root file system with
# /etc/wsl-distribution.conf. Installing a NixOS root needs root (nixos-install
# chroots to activate it), so the build runs in a throwaway VM; the VM sees the
# host's store but not its database, hence the closure is registered first.
{ pkgs, nixos }:
let
  inherit (pkgs) lib;
  toplevel = nixos.config.system.build.toplevel;
  closure = pkgs.closureInfo { rootPaths = [ toplevel ]; };
  distributionConf = pkgs.writeText "wsl-distribution.conf" (lib.generators.toINI { } {
    # The name `wsl -d ccproxy` uses unless `wsl --install --name` says otherwise.
    oobe.defaultName = "ccproxy";
  });
in
pkgs.vmTools.runInLinuxVM (pkgs.runCommand "ccproxy-wsl"
  {
    memSize = 8192;
    nativeBuildInputs = [ pkgs.nixos-install-tools nixos.config.nix.package pkgs.gnutar pkgs.pigz pkgs.coreutils ];
  } ''
  nix-store --load-db < ${closure}/registration
  root=$(mktemp -d)
  nixos-install --root "$root" --system ${toplevel} --no-root-passwd --no-channel-copy --substituters ""
  install -Dm644 ${distributionConf} "$root/etc/wsl-distribution.conf"
  mkdir -p $out
  tar -C "$root" -c --sort=name --mtime=@1 --numeric-owner --hard-dereference . | pigz > $out/ccproxy.wsl
'')
