{
  description = "ccproxy: capture, steer and translate LLM client traffic (package, Home-Manager service, NixOS module, WSL image, VM tests)";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixpkgs-unstable";
    # The library alone: enough to render a config (`lib.renderConfig`) without nixpkgs.
    nixpkgs-lib.url = "github:nix-community/nixpkgs.lib";
    home-manager = {
      url = "github:nix-community/home-manager";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    nixos-wsl = {
      url = "github:nix-community/NixOS-WSL";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    pyproject-nix = {
      url = "github:pyproject-nix/pyproject.nix";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    uv2nix = {
      url = "github:pyproject-nix/uv2nix";
      inputs.pyproject-nix.follows = "pyproject-nix";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    pyproject-build-systems = {
      url = "github:pyproject-nix/build-system-pkgs";
      inputs.pyproject-nix.follows = "pyproject-nix";
      inputs.uv2nix.follows = "uv2nix";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  outputs = { self, nixpkgs, nixpkgs-lib, home-manager, nixos-wsl, pyproject-nix, uv2nix, pyproject-build-systems, ... }:
    let
      inherit (nixpkgs) lib;
      # The jail is Linux-only; the reverse proxy alone also runs on macOS.
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      linux = [ "x86_64-linux" "aarch64-linux" ];
      forAll = names: f: lib.genAttrs names (system: f system nixpkgs.legacyPackages.${system});

      # Only what the build needs, so editing docs does not rebuild the package.
      src = lib.fileset.toSource {
        root = ./.;
        fileset = lib.fileset.unions [ ./pyproject.toml ./uv.lock ./README.md ./src ./tests ];
      };
      built = system: pkgs: import ./nix/package.nix {
        inherit pkgs lib pyproject-nix uv2nix pyproject-build-systems src;
      };
      packageFor = system: (built system nixpkgs.legacyPackages.${system}).ccproxy;

      homeModule = { pkgs, ... }: {
        imports = [ ./modules/home-manager.nix ];
        services.ccproxy.package = lib.mkDefault (packageFor pkgs.stdenv.hostPlatform.system);
      };
      nixosModule = { pkgs, ... }: {
        imports = [ ./modules/nixos.nix ];
        programs.ccproxy.package = lib.mkDefault (packageFor pkgs.stdenv.hostPlatform.system);
      };

      wslSystem = system: lib.nixosSystem {
        inherit system;
        modules = [ nixos-wsl.nixosModules.default nixosModule ./hosts/wsl ];
      };
    in
    {
      packages = forAll systems (system: pkgs:
        let b = built system pkgs; in {
          default = b.ccproxy;
          inherit (b) ccproxy;
        } // lib.optionalAttrs (lib.elem system linux) {
          # `nix build .#wsl` → result/ccproxy.wsl
          wsl = import ./nix/wsl.nix { inherit pkgs; nixos = wslSystem system; };
        });

      apps = forAll systems (system: pkgs: {
        default = {
          type = "app";
          program = "${self.packages.${system}.ccproxy}/bin/ccproxy";
        };
      });

      devShells = forAll systems (system: pkgs:
        let b = built system pkgs; in {
          default = pkgs.mkShell {
            packages = [ pkgs.uv pkgs.ruff pkgs.python312 pkgs.nixpkgs-fmt ] ++ lib.optionals (lib.elem system linux) b.jailTools;
            env = {
              UV_PYTHON = "${pkgs.python312}/bin/python3.12";
              UV_PYTHON_DOWNLOADS = "never";
            };
          };
        });

      overlays.default = final: prev: { ccproxy = (built final.stdenv.hostPlatform.system final).ccproxy; };

      homeModules.ccproxy = homeModule;
      homeModules.default = homeModule;
      homeManagerModules = self.homeModules;
      nixosModules.ccproxy = nixosModule;
      nixosModules.default = nixosModule;

      nixosConfigurations.ccproxy-wsl = wslSystem "x86_64-linux";

      # Pure: `ccproxy.lib.renderConfig { port = 4000; }` gives ccproxy.yaml's text.
      lib.renderConfig = settings: import ./nix/render-config.nix { lib = nixpkgs-lib.lib; inherit settings; };

      checks = forAll linux (system: pkgs:
        let
          b = built system pkgs;
          vmTest = file: import file {
            inherit pkgs home-manager;
            package = b.ccproxy;
            homeModule = ./modules/home-manager.nix;
            nixosModule = ./modules/nixos.nix;
          };
        in
        {
          package = b.ccproxy;
          pytest = b.pytest;
          vm-jail = vmTest ./nix/tests/jail.nix;
          vm-home-manager = vmTest ./nix/tests/home-manager.nix;
          vm-nixos-module = vmTest ./nix/tests/nixos-module.nix;
        });

      formatter = forAll systems (system: pkgs: pkgs.nixpkgs-fmt);
    };
}
