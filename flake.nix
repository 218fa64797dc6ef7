{
  description = "materialize: turn a declarative secrets.json into secret files under /run/secrets, from sops, age, 1Password or Bitwarden";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (pkgs: rec {
        materialize = pkgs.callPackage ./nixos-module/package.nix { };
        default = materialize;
      });

      overlays.default = final: _prev: {
        materialize = final.callPackage ./nixos-module/package.nix { };
      };

      # The modules build the package from this repository with the system's own nixpkgs
      # (materialize.package overrides it).
      nixosModules.default = ./nixos-module;
      nixosModules.materialize = ./nixos-module;
      # OpNix's `services.onepassword-secrets` options on materialize: swap this for OpNix's module.
      nixosModules.opnix-compat = ./nixos-module/opnix-compat.nix;
      homeManagerModules.default = ./nixos-module/home-manager.nix;
      homeManagerModules.materialize = ./nixos-module/home-manager.nix;

      # Drop-in replacements for sops-nix and agenix: their options, materialize underneath (README,
      # "Coming from sops-nix or agenix"). Each brings the materialize module with it.
      nixosModules.sops-nix-compat = ./nixos-module/sops-nix-compat.nix;
      nixosModules.agenix-compat = ./nixos-module/agenix-compat.nix;
      homeManagerModules.sops-nix-compat = ./nixos-module/sops-nix-compat-home.nix;
      homeManagerModules.agenix-compat = ./nixos-module/agenix-compat-home.nix;

      # `nix flake check`: the package builds; the module tests (test/nixos) run against this
      # nixpkgs' lib; a NixOS VM boots with a sops and an age secret, then switches to a second
      # configuration (nixos-module/tests/vm.nix).
      checks = forAllSystems (pkgs:
        let materialize = self.packages.${pkgs.stdenv.hostPlatform.system}.default; in
        {
          package = materialize;
          module-tests = import ./nixos-module/tests/module-tests.nix {
            inherit pkgs materialize;
            nixpkgsLib = "${nixpkgs}/lib";
          };
          vm = import ./nixos-module/tests/vm.nix { inherit pkgs; };
        });
    };
}
