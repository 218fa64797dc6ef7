# Evaluates the NixOS or home-manager module with nixpkgs' lib and the stand-ins of ./stubs.nix,
# and returns what the tests check: failed assertions, warnings, the manifests and the units.
#
#   NIXPKGS_LIB=/path/to/nixpkgs/lib nix-instantiate --eval --strict --json --readonly-mode \
#     nixos-module/tests/eval.nix --argstr kind nixos --arg configuration ./my-config.nix
#
# `configuration` is a module (a file or a function); `kind` is "nixos" or "home-manager".
# Nothing is built: the package and the manifest files are fake derivations (see ./stubs.nix).
{
  libPath ? builtins.getEnv "NIXPKGS_LIB",
  lib ? (if libPath == "" then throw "set NIXPKGS_LIB to the directory of nixpkgs' lib (the one holding default.nix)" else import libPath),
  kind ? "nixos",
  configuration,
}:
let
  stubs = import ./stubs.nix { inherit lib; };
  isNixos = kind == "nixos";
  evaluated = lib.evalModules {
    modules = [
      (if isNixos then stubs.nixos else stubs.homeManager)
      (if isNixos then ../default.nix else ../home-manager.nix)
      # The program is never run here: a fake package keeps store paths readable in the output.
      { materialize.package = stubs.fakeDrv "materialize" "" { }; }
      configuration
    ];
  };
  c = evaluated.config;
  failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) c.assertions);
  file = drv: { path = drv.outPath; } // lib.optionalAttrs (drv ? buildCommand) { inherit (drv) buildCommand; };
in
{
  inherit failedAssertions;
  inherit (c) warnings;
  # A configuration may declare `options.probe` and set it to values the test reads back
  # (`config.sops.secrets.x.path`, placeholders, a user's hashedPasswordFile…).
  probe = c.probe or null;
}
// lib.optionalAttrs (failedAssertions == [ ]) (
  {
    inherit (c.materialize) manifest placeholder instanceManifests;
    instancePaths = lib.mapAttrs (_: i: lib.mapAttrs (_: s: s.path) i.secrets // lib.mapAttrs (_: t: t.path) i.templates) c.materialize.instances;
    manifestFile = file c.materialize.manifestFile;
    keys = c.materialize.manifest.keys;
  }
  // (if isNixos then {
    inherit (c.materialize) manifestForUsers earlyBoot;
    paths = lib.mapAttrs (_: s: s.path) c.materialize.secrets;
    services = c.systemd.services;
    targets = c.systemd.targets;
    timers = c.systemd.timers;
    activationScripts = c.system.activationScripts;
    etc = c.environment.etc;
    systemPackages = c.environment.systemPackages;
  } else {
    paths = lib.mapAttrs (_: s: s.path) c.materialize.secrets;
    userServices = c.systemd.user.services;
    userTargets = c.systemd.user.targets;
    userTimers = c.systemd.user.timers;
    packages = c.home.packages;
    # The wrappers' scripts (writeShellScriptBin's text), by name.
    wrappers = lib.listToAttrs (map (p: { inherit (p) name; value = { inherit (p) text destination; }; }) (lib.filter (p: p ? destination) c.home.packages));
  })
)
