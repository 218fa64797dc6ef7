# materialize in place of agenix, with agenix's module names: change the input's URL and keep the
# rest (`agenix.nixosModules.default`, `agenix.nixosModules.age`, `agenix.homeManagerModules.age`).
#   inputs.agenix.url = "github:<owner>/materialize?dir=nixos-module/compat/agenix";
# Modules only: agenix's CLI package and darwin modules are not provided (keep agenix as a second
# input for `agenix -e`), so a configuration that uses them fails to evaluate rather than silently.
{
  description = "materialize as a drop-in for agenix: age.* options, materialize underneath";

  outputs = { self }: {
    nixosModules.age = ../../agenix-compat.nix;
    nixosModules.default = self.nixosModules.age;
    homeManagerModules.age = ../../agenix-compat-home.nix;
    homeManagerModules.default = self.homeManagerModules.age;
  };
}
