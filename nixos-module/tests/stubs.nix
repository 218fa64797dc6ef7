# Stand-ins for the NixOS and home-manager options (and the few `pkgs` attributes) that the modules
# touch, so that test/nixos/eval.test.ts can evaluate them with nixpkgs' `lib` alone: no nixpkgs,
# no NixOS, nothing built. Each mirrors the real option's type closely enough for the same merges
# (lists concatenate, `system.activationScripts` entries are a string or { deps, text }).
# The real modules are exercised by the NixOS VM test (./vm.nix) under `nix flake check`.
#
# Stubbed: assertions, warnings, pkgs.{writeText,runCommand,age,…}, environment.{systemPackages,etc}, services.openssh.{enable,hostKeys},
# services.userborn.enable, systemd.{package,sysusers.enable,services,targets,timers},
# system.activationScripts (with NixOS's own `specialfs` and `users` snippets),
# users.{users,groups,mutableUsers}, specialisation (kept, not evaluated);
# pkgs: writeText, runCommand, writeShellScriptBin, callPackage and a few tools;
# home-manager: home.{homeDirectory,username,packages}, xdg.configHome, systemd.user.{services,targets,timers}.
{ lib }:
let
  inherit (lib) mkOption types;

  # Fake derivations: a store path derived from the name and content, and the inputs kept for the
  # tests to read (`text` of writeText, `buildCommand` of runCommand).
  storePath = name: seed:
    "${builtins.storeDir}/${builtins.substring 0 32 (builtins.hashString "sha256" "${name}\n${seed}")}-${name}";
  fakeDrv = name: seed: attrs: attrs // { type = "derivation"; inherit name; outPath = storePath name seed; };
  tool = name: fakeDrv name "" { };
  runtimeShell = "${(tool "bash").outPath}/bin/bash";

  pkgs = {
    writeText = name: text: fakeDrv name text { inherit text; };
    runCommand = name: env: buildCommand: fakeDrv name buildCommand { inherit env buildCommand; };
    writeShellScript = name: text: fakeDrv name text { inherit text; };
    # As nixpkgs' writeShellScriptBin: $out/bin/<name>, the text after a shebang line.
    writeShellScriptBin = name: text: fakeDrv name text { text = "#!${runtimeShell}\n${text}"; executable = true; destination = "/bin/${name}"; };
    callPackage = _: _: fakeDrv "materialize-default-package" "" { };
    util-linux = tool "util-linux";
    getent = tool "getent";
    systemd = tool "systemd";
    gnupg = tool "gnupg";
    coreutils = tool "coreutils";
    bitwarden-cli = tool "bitwarden-cli";
    age = tool "age";
  };

  commonStub = {
    options = {
      assertions = mkOption { type = types.listOf types.unspecified; default = [ ]; };
      warnings = mkOption { type = types.listOf types.str; default = [ ]; };
    };
    config._module.args.pkgs = pkgs;
  };

  # Unit settings as NixOS renders them: a value or a list of values.
  unitValue = types.oneOf [ types.bool types.int types.str types.path types.package ];
  unitOption = types.either unitValue (types.listOf unitValue);
  unitList = mkOption { type = types.listOf types.str; default = [ ]; };
  nixosUnit = types.submodule {
    freeformType = types.attrsOf types.anything;
    options = {
      description = mkOption { type = types.str; default = ""; };
      wantedBy = unitList;
      requiredBy = unitList;
      before = unitList;
      after = unitList;
      wants = unitList;
      requires = unitList;
      requisite = unitList;
      conflicts = unitList;
      restartTriggers = mkOption { type = types.listOf types.unspecified; default = [ ]; };
      restartIfChanged = mkOption { type = types.bool; default = true; };
      stopIfChanged = mkOption { type = types.bool; default = true; };
      path = mkOption { type = types.listOf (types.either types.package types.str); default = [ ]; };
      unitConfig = mkOption { type = types.attrsOf unitOption; default = { }; };
      serviceConfig = mkOption { type = types.attrsOf unitOption; default = { }; };
    };
  };

  activationScript = types.either types.str (types.submodule {
    options = {
      deps = mkOption { type = types.listOf types.str; default = [ ]; };
      text = mkOption { type = types.lines; };
      supportsDryActivation = mkOption { type = types.bool; default = false; };
    };
  });

  nixos = { config, ... }: {
    imports = [ commonStub ];
    options = {
      environment.systemPackages = mkOption { type = types.listOf types.package; default = [ ]; };
      environment.etc = mkOption { type = types.attrsOf (types.attrsOf types.anything); default = { }; };
      services.openssh.enable = mkOption { type = types.bool; default = false; };
      # NixOS's default host keys.
      services.openssh.hostKeys = mkOption {
        type = types.listOf types.attrs;
        default = [
          { type = "rsa"; bits = 4096; path = "/etc/ssh/ssh_host_rsa_key"; }
          { type = "ed25519"; path = "/etc/ssh/ssh_host_ed25519_key"; }
        ];
      };
      services.userborn.enable = mkOption { type = types.bool; default = false; };
      systemd.package = mkOption { type = types.package; default = tool "systemd"; };
      systemd.sysusers.enable = mkOption { type = types.bool; default = false; };
      systemd.services = mkOption { type = types.attrsOf nixosUnit; default = { }; };
      systemd.targets = mkOption { type = types.attrsOf nixosUnit; default = { }; };
      systemd.timers = mkOption { type = types.attrsOf nixosUnit; default = { }; };
      system.activationScripts = mkOption { type = types.attrsOf activationScript; default = { }; };
      users.users = mkOption { type = types.attrsOf (types.attrsOf types.anything); default = { }; };
      users.mutableUsers = mkOption { type = types.bool; default = true; };
      # Evaluated by NixOS as separate systems; kept here unevaluated (the VM test's machine has one).
      specialisation = mkOption { type = types.attrsOf (types.attrsOf types.unspecified); default = { }; };
      users.groups = mkOption { type = types.attrsOf (types.attrsOf types.anything); default = { }; };
    };
    # As in NixOS: `users` is a snippet unless systemd-sysusers creates users, then it is "".
    config.system.activationScripts = {
      specialfs = { text = "# mount /run, /proc, … (stub)"; };
      users = if config.systemd.sysusers.enable then "" else { text = "# update-users-groups (stub)"; };
    };
  };

  # home-manager's unit type: [Section] → key → value or list of values.
  hmUnit = types.submodule {
    freeformType = types.attrsOf (types.attrsOf unitOption);
  };

  homeManager = { config, ... }: {
    imports = [ commonStub ];
    options = {
      home.username = mkOption { type = types.str; default = "alice"; };
      home.homeDirectory = mkOption { type = types.str; default = "/home/alice"; };
      home.packages = mkOption { type = types.listOf types.package; default = [ ]; };
      xdg.configHome = mkOption { type = types.str; default = "${config.home.homeDirectory}/.config"; };
      systemd.user.services = mkOption { type = types.attrsOf hmUnit; default = { }; };
      systemd.user.targets = mkOption { type = types.attrsOf hmUnit; default = { }; };
      systemd.user.timers = mkOption { type = types.attrsOf hmUnit; default = { }; };
    };
  };
in
{
  inherit pkgs nixos homeManager fakeDrv;
}
