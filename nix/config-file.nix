# ccproxy.yaml as a store file, for the Home-Manager and NixOS modules. With
# `check`, the file is only built if ccproxy itself accepts it: its loader (so a
# mistyped freeform key fails at switch time, not when the service starts) and
# the hook pipeline (hook names resolve, their reads/writes order).
{ pkgs, package, text, check }:
let
  raw = pkgs.writeText "ccproxy.yaml" text;
in
if !check then raw else
pkgs.runCommand "ccproxy.yaml" { passthru.unchecked = raw; } ''
  ${package}/bin/ccproxy --config ${raw} status --mermaid > /dev/null
  cp ${raw} $out
''
