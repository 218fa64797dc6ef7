# materialize in place of sops-nix, with sops-nix's module names: change the input's URL and keep
# the rest (`sops-nix.nixosModules.sops`, `sops-nix.homeManagerModules.sops`, `…default`).
#   inputs.sops-nix.url = "github:<owner>/materialize?dir=nixos-module/compat/sops-nix";
# Modules only: sops-nix's packages (sops-import-keys-hook, …) and darwin modules are not provided,
# so a configuration that uses them fails to evaluate rather than changing silently.
{
  description = "materialize as a drop-in for sops-nix: sops.* options, materialize underneath";

  outputs = { self }: {
    nixosModules.sops = ../../sops-nix-compat.nix;
    nixosModules.default = self.nixosModules.sops;
    homeManagerModules.sops = ../../sops-nix-compat-home.nix;
    homeManagerModules.default = self.homeManagerModules.sops;
    homeManagerModule = self.homeManagerModules.sops;
    homeModules = self.homeManagerModules;
  };
}
