# The ccproxy package, built from uv.lock with pyproject.nix + uv2nix, so Nix
# users run exactly the locked versions (the jail depends on mitmproxy internals
# that the lock pins). Every locked package has a wheel; uv2nix patches the
# manylinux wheels (mitmproxy_rs, jq, curl-cffi, ...) with autoPatchelf.
{ pkgs, lib, pyproject-nix, uv2nix, pyproject-build-systems, src }:
let
  python = pkgs.python312;
  workspace = uv2nix.lib.workspace.loadWorkspace { workspaceRoot = src; };
  pythonSet =
    (pkgs.callPackage pyproject-nix.build.packages { inherit python; }).overrideScope (
      lib.composeManyExtensions [
        pyproject-build-systems.overlays.wheel
        (workspace.mkPyprojectOverlay { sourcePreference = "wheel"; })
      ]
    );
  version = pythonSet.claude-ccproxy.version;

  # What `ccproxy run --inspect` calls (see src/ccproxy/jail/preflight.py).
  jailTools = with pkgs; [ slirp4netns wireguard-tools wireguard-go iproute2 iptables util-linux procps ];

  venv = pythonSet.mkVirtualEnv "ccproxy-env-${version}" workspace.deps.default;
  # The dev group too: pytest and the official SDKs the tests use as oracles.
  testVenv = pythonSet.mkVirtualEnv "ccproxy-test-env-${version}" workspace.deps.all;

  # --prefix: the jail runs with the tools this package was tested with, not whatever
  # iptables/slirp4netns the host happens to have.
  ccproxy = pkgs.runCommand "ccproxy-${version}"
    {
      nativeBuildInputs = [ pkgs.makeWrapper ];
      passthru = { inherit venv testVenv jailTools python; };
      meta = {
        description = "Transparent interceptor for LLM clients: capture, steer and translate traffic";
        license = lib.licenses.mit;
        mainProgram = "ccproxy";
        platforms = lib.platforms.unix;
      };
    } ''
    mkdir -p $out/bin
    makeWrapper ${venv}/bin/ccproxy $out/bin/ccproxy \
      --prefix PATH : ${lib.makeBinPath jailTools}
  '';

  # The package's own test suite as a flake check. The sandbox has no network,
  # which is all the suite needs (loopback and namespaces it creates); the jail
  # tests skip with a reason where the build sandbox forbids user namespaces.
  pytest = pkgs.runCommand "ccproxy-pytest-${version}"
    { nativeBuildInputs = [ testVenv pkgs.curl ] ++ jailTools; }
    ''
      cp -r ${src}/. source && chmod -R u+w source && cd source
      export HOME=$TMPDIR CI=true
      python -m pytest -q -p no:cacheprovider tests
      touch $out
    '';
in
{
  inherit ccproxy pytest venv testVenv jailTools;
}
