# What the VM tests share: a user with Home Manager and the ccproxy user service,
# and a fake TLS provider on the node's loopback.
{ pkgs, home-manager, package, homeModule, nixosModule }:
{
  fakeProvider = { pkgs, ... }: {
    systemd.services.fake-provider = {
      wantedBy = [ "multi-user.target" ];
      path = [ pkgs.openssl ];
      serviceConfig.StateDirectory = "fake-provider";
      script = ''
        cd /var/lib/fake-provider
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=api.anthropic.com \
          -addext subjectAltName=DNS:api.anthropic.com -keyout key.pem -out cert.pem
        exec ${pkgs.python3}/bin/python3 ${./fake-provider.py} 8443 cert.pem key.pem requests
      '';
    };
  };

  # alice, with services.ccproxy from modules/home-manager.nix started at boot.
  userWithService = settings: { ... }: {
    imports = [ home-manager.nixosModules.home-manager nixosModule ];
    programs.ccproxy = { enable = true; inherit package; };
    users.users.alice = { isNormalUser = true; uid = 1000; linger = true; };
    home-manager.users.alice = {
      imports = [ homeModule ];
      home.stateVersion = "25.05";
      services.ccproxy = { enable = true; inherit package settings; };
    };
  };
}
