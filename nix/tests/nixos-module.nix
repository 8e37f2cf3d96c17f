# The NixOS module: tools on PATH, unprivileged user namespaces usable, and the
# optional system service for a named user.
{ pkgs, package, nixosModule, ... }:
pkgs.testers.runNixOSTest {
  name = "ccproxy-nixos-module";
  nodes.machine = {
    imports = [ nixosModule ];
    users.users.alice = { isNormalUser = true; uid = 1000; };
    programs.ccproxy = {
      enable = true;
      inherit package;
      service = { enable = true; user = "alice"; settings.port = 4200; };
    };
  };

  testScript = ''
    machine.wait_for_unit("multi-user.target")
    for tool in ["ccproxy", "slirp4netns", "wg", "wireguard-go", "ip", "iptables", "unshare", "nsenter", "sysctl"]:
        machine.succeed(f"su - alice -c 'command -v {tool}'")
    # Rootless namespaces work for a plain user (what the jail needs).
    machine.succeed("su - alice -c 'unshare --user --map-root-user --net ip link show lo'")
    machine.succeed("grep -q unprivileged_userns_clone /etc/sysctl.d/60-nixos.conf")
    machine.fail("grep -q apparmor_restrict_unprivileged_userns /etc/sysctl.d/60-nixos.conf")
    machine.wait_for_unit("ccproxy.service")
    machine.wait_for_open_port(4200)
    assert machine.succeed("systemctl show -p User --value ccproxy.service").strip() == "alice"
    machine.succeed("su - alice -c 'ccproxy status --proxy'")
    machine.succeed("su - alice -c 'ccproxy namespace status'")
  '';
}
