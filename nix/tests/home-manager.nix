# The Home-Manager module: the user service starts, the rendered ccproxy.yaml
# loads with ccproxy's own loader, and the unit restarts on failure and on config changes.
args@{ pkgs, package, ... }:
let
  common = import ./common.nix args;
  # ccproxy's own loader reads the managed file from the default location.
  checkConfig = pkgs.writeText "check-config.py" ''
    from ccproxy.config import load_config
    c = load_config().ccproxy
    print(c.port, c.log_level, c.providers["anthropic"].auth.type)
  '';
in
pkgs.testers.runNixOSTest {
  name = "ccproxy-home-manager";
  nodes.machine = {
    imports = [
      (common.userWithService {
        port = 4100;
        log_level = "DEBUG";
        providers.anthropic = {
          host = "api.anthropic.com";
          auth = { type = "file"; file_path = "/home/alice/.anthropic-key"; };
        };
        hooks.inbound = [ "ccproxy.hooks.inject_auth" { hook = "ccproxy.hooks.extract_session_id"; } ];
      })
    ];
  };

  testScript = ''
    machine.wait_for_unit("ccproxy.service", "alice")
    machine.wait_for_open_port(4100)
    machine.succeed("test -L /home/alice/.config/ccproxy/ccproxy.yaml")
    machine.succeed("su - alice -c 'ccproxy status --proxy'")
    loaded = machine.succeed("su - alice -c '${package.venv}/bin/python ${checkConfig}'")
    assert loaded.split() == ["4100", "DEBUG", "file"], loaded
    unit = machine.succeed("cat /home/alice/.config/systemd/user/ccproxy.service")
    assert "Restart=on-failure" in unit and "X-Restart-Triggers=" in unit, unit
  '';
}
