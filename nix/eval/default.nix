# Evaluate the Home-Manager and NixOS modules with nothing but nixpkgs' lib.
#
# For machines (and CI) without nixpkgs, Home Manager or a binary cache: the
# few options our modules set are stubbed as plain attrs options, and `pkgs`
# is a set of fake derivations, so the modules' own options, types,
# assertions and rendering are evaluated for real. Used by tests/nix/.
#
#   nix-instantiate --eval --strict --json nix/eval \
#     --arg lib 'import <path-to-nixpkgs>/lib' -A hm.unit --arg config '{ ... }'
{ lib, config ? { }, home ? "/home/alice" }:
let
  inherit (lib) mkOption types;

  fakePkg = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };
  pkgs = lib.genAttrs [
    "ccproxy" "coreutils" "slirp4netns" "wireguard-tools" "wireguard-go" "iproute2" "iptables" "util-linux" "procps"
  ] fakePkg // {
    writeText = name: text: fakePkg "${name}-${builtins.hashString "sha256" text}" // { inherit text; };
    runCommand = name: env: buildCommand: fakePkg "${name}-${builtins.hashString "sha256" buildCommand}" // env // { inherit buildCommand; };
  };
  # The text behind a store file made by nix/config-file.nix, and its check command.
  fileText = file: file.text or file.passthru.unchecked.text;

  attrsOpt = mkOption { type = types.attrsOf types.anything; default = { }; };
  listOpt = mkOption { type = types.listOf types.anything; default = [ ]; };
  common = {
    assertions = listOpt;
    warnings = listOpt;
  };

  hmStubs = {
    options = common // {
      home.packages = listOpt;
      home.homeDirectory = mkOption { type = types.str; default = home; };
      home.file = attrsOpt;
      home.sessionVariables = attrsOpt;
      xdg.configHome = mkOption { type = types.str; default = "${home}/.config"; };
      xdg.configFile = attrsOpt;
      systemd.user.services = attrsOpt;
    };
  };

  nixosStubs = {
    options = common // {
      environment.systemPackages = listOpt;
      environment.variables = attrsOpt;
      boot.kernel.sysctl = attrsOpt;
      boot.kernelModules = listOpt;
      security.apparmor.enable = mkOption { type = types.bool; default = false; };
      systemd.services = attrsOpt;
    };
  };

  evaluate = module: stubs: lib.evalModules {
    modules = [ module stubs config ];
    specialArgs = { inherit pkgs; };
  };

  # Declarations are file paths; as strings they stay out of the store.
  # Internal options (the submodules' `_module.*`) are left out.
  docList = options: map (o: o // { declarations = map toString o.declarations; })
    (lib.filter (o: o.visible && !o.internal) (lib.optionAttrSetToDocList options));

  failed = cfg: map (a: a.message) (lib.filter (a: !a.assertion) cfg.assertions);

  hmEval = evaluate ../../modules/home-manager.nix hmStubs;
  nixosEval = evaluate ../../modules/nixos.nix nixosStubs;
  hmCfg = hmEval.config;
  nixosCfg = nixosEval.config;
in
{
  hm = {
    inherit (hmCfg.services.ccproxy) settings configDir;
    unit = hmCfg.systemd.user.services.ccproxy or null;
    configFile = lib.mapAttrs (_: f: { text = fileText f.source; check = f.source.buildCommand or null; })
      (hmCfg.xdg.configFile // hmCfg.home.file);
    sessionVariables = hmCfg.home.sessionVariables;
    packages = map (p: p.name) hmCfg.home.packages;
    failedAssertions = failed hmCfg;
  };
  nixos = {
    sysctl = nixosCfg.boot.kernel.sysctl;
    packages = map (p: p.name) nixosCfg.environment.systemPackages;
    variables = nixosCfg.environment.variables;
    kernelModules = nixosCfg.boot.kernelModules;
    service = nixosCfg.systemd.services.ccproxy or null;
    failedAssertions = failed nixosCfg;
    yaml = if nixosCfg.systemd.services ? ccproxy then fileText (lib.head nixosCfg.systemd.services.ccproxy.restartTriggers) else null;
  };
  # The option declarations, for the drift test and the docs.
  hmOptions = docList hmEval.options.services.ccproxy;
  nixosOptions = docList nixosEval.options.programs.ccproxy;
}
