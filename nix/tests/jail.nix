# The jail end to end: `ccproxy run --inspect -- curl https://api.anthropic.com/...`
# as an unprivileged user, pinned by inspector.resolve to a fake TLS provider on
# the node's loopback. The flow must be captured and decrypted, and the kill
# switch must stop anything that tries to leave the namespace another way.
args@{ pkgs, ... }:
let
  common = import ./common.nix args;
in
pkgs.testers.runNixOSTest {
  name = "ccproxy-jail";
  nodes.machine = {
    imports = [
      common.fakeProvider
      (common.userWithService {
        inspector.resolve."api.anthropic.com" = "127.0.0.1:8443";
        # The fake's certificate is self-signed.
        inspector.ssl_verify = false;
      })
    ];
    environment.systemPackages = [ pkgs.curl ];
    virtualisation.memorySize = 2048;
  };

  testScript = ''
    import json

    def alice(cmd):
        return machine.succeed(f"su - alice -c {json.dumps(cmd)}")

    machine.wait_for_unit("fake-provider.service")
    machine.wait_for_open_port(8443)
    machine.wait_for_unit("ccproxy.service", "alice")
    machine.wait_until_succeeds("su - alice -c 'ccproxy status --proxy --inspect'")

    with subtest("the jailed client reaches the provider through the daemon"):
        out = alice(
            "ccproxy run --inspect -- curl -sS https://api.anthropic.com/v1/messages"
            " -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' -H 'x-api-key: sk-vmtest'"
            " -d '{\"model\":\"claude-test\",\"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'"
        )
        assert "hello from the fake provider" in out, out
        assert machine.succeed("cat /var/lib/fake-provider/requests").strip() == "1"

    with subtest("the flow is captured and decrypted"):
        flows = json.loads(alice("ccproxy flows list --json --bodies"))
        [flow] = [f for f in flows if f["request"]["pretty_host"] == "api.anthropic.com"]
        assert flow["listener"] != "reverse", flow["listener"]
        assert flow["request"]["path"] == "/v1/messages"
        assert "hello from the fake provider" in flow["response"]["body"]

    with subtest("the kill switch blocks direct connections"):
        # 10.0.2.2 is the host's loopback seen through slirp4netns: the fake listens there.
        probe = (
            "import socket\n"
            "for host, port in (('10.0.2.2', 8443), ('10.0.2.2', 4000), ('10.0.2.3', 53)):\n"
            "    try:\n"
            "        socket.create_connection((host, port), timeout=3).close(); print('connected')\n"
            "    except OSError as e:\n"
            "        print(type(e).__name__)\n"
        )
        out = alice(f"ccproxy run --inspect -- ${pkgs.python3}/bin/python3 -c {json.dumps(probe)}")
        assert "connected" not in out, out
        assert machine.succeed("cat /var/lib/fake-provider/requests").strip() == "1"

    with subtest("namespace doctor passes"):
        alice("ccproxy namespace doctor --json")
  '';
}
