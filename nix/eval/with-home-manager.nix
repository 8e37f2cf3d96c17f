# modules/home-manager.nix inside the real Home Manager module system (its
# systemd, xdg and files modules and their types), without nixpkgs: `pkgs` is a
# stand-in (fake derivations, the `formats` the core modules use), and
# `pkgsPath` a directory holding nixpkgs' lib/ and the two small NixOS modules
# Home Manager imports (nixpkgs-stub/). Used by tests/nix/test_home_manager.py
# when a Home Manager tree is at hand (e.g. the flake.lock pin).
{ lib, homeManager, pkgsPath, config ? { } }:
let
  hmLib = import (homeManager + "/modules/lib/stdlib-extended.nix") lib;
  platform = lib.systems.elaborate "x86_64-linux";
  fake = name: {
    type = "derivation";
    inherit name;
    pname = name;
    version = "0";
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };
  t = lib.types;
  atom = t.nullOr (t.oneOf [ t.bool t.int t.float t.str t.path ]);
  format = type: _: { inherit type; generate = name: _: fake name; };
  pkgs = lib.genAttrs [ "ccproxy" "glibcLocales" ] fake // {
    inherit lib;
    writeText = name: text: fake name // { inherit text; };
    runCommand = name: env: buildCommand: fake name // env // { inherit buildCommand; };
    path = pkgsPath;
    stdenv = { hostPlatform = platform; buildPlatform = platform; targetPlatform = platform; isLinux = true; isDarwin = false; };
    # systemd.nix's unit files are INI; the shape of nixpkgs' formats.ini type.
    formats = {
      ini = format (t.attrsOf (t.attrsOf (t.either atom (t.listOf atom))));
      json = format (t.attrsOf t.anything);
      yaml = format (t.attrsOf t.anything);
      toml = format (t.attrsOf t.anything);
    };
  };
  evaluated = hmLib.evalModules {
    class = "homeManager";
    specialArgs.modulesPath = toString (homeManager + "/modules");
    modules = [
      ../../modules/home-manager.nix
      {
        _module.args.pkgs = lib.mkForce pkgs;
        home.username = "alice";
        home.homeDirectory = "/home/alice";
        home.stateVersion = "25.05";
      }
      config
      # `check = false`: the minimal module set leaves options that other modules set undeclared.
    ] ++ import (homeManager + "/modules/modules.nix") { inherit pkgs; lib = hmLib; check = false; minimal = true; };
  };
  c = evaluated.config;
  file = c.xdg.configFile."ccproxy/ccproxy.yaml" or null;
in
{
  unit = c.systemd.user.services.ccproxy or null;
  text = if file == null then null else file.source.passthru.unchecked.text;
  check = if file == null then null else file.source.buildCommand;
  target = if file == null then null else file.target;
  failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) c.assertions);
}
