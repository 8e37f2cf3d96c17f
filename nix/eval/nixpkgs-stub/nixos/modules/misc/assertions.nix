# Stand-in for nixpkgs' module of the same name (Home Manager imports it from pkgs.path).
{ lib, ... }:
{
  options.assertions = lib.mkOption { type = lib.types.listOf lib.types.unspecified; internal = true; default = [ ]; };
  options.warnings = lib.mkOption { type = lib.types.listOf lib.types.str; internal = true; default = [ ]; };
}
