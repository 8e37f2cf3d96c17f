# ccproxy.yaml from Nix values: `{ lib, settings }: text`.
#
# Pure (needs nothing but nixpkgs' lib), so tests and other tools can check the
# output without building anything. `settings` is the `ccproxy:` section, either
# the modules' evaluated `settings` option or a plain attribute set. Nulls are
# dropped (ccproxy's default applies). The text is JSON, which is valid YAML.
{ lib, settings }:
let
  clean = value:
    if builtins.isAttrs value then
      lib.mapAttrs (_: clean) (lib.filterAttrs (name: v: v != null && name != "_module") value)
    else if builtins.isList value then
      map clean (lib.filter (v: v != null) value)
    else
      value;
in
builtins.toJSON { ccproxy = clean settings; } + "\n"
