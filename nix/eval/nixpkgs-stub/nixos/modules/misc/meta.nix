# Stand-in for nixpkgs' module of the same name (Home Manager imports it from pkgs.path).
{ lib, ... }:
let
  keepAll = type: type // { merge = _loc: defs: defs; };
in
{
  options.meta = {
    doc = lib.mkOption { type = keepAll lib.types.path; internal = true; };
    buildDocsInSandbox = lib.mkOption { type = keepAll lib.types.bool; internal = true; default = true; };
    maintainers = lib.mkOption { type = lib.types.unspecified; internal = true; default = [ ]; };
  };
}
