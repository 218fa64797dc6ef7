# agenix compatibility (home-manager): declares the `age.*` options of agenix's home-manager module
# with its names, types and defaults (ryantm/agenix modules/age-home.nix at commit
# b027ee29d959fda4b60b57566d64c98a202e0feb, read for facts only) and maps them onto a materialize
# instance of their own: `${XDG_RUNTIME_DIR}/agenix/<name>`, generations in
# `${XDG_RUNTIME_DIR}/agenix.d`, applied by the user unit `materialize-secrets-agenix`. Swap
# `agenix.homeManagerModules.default` for `materialize.homeManagerModules.agenix-compat`. What it
# shares with the NixOS module is in agenix-common.nix.
{ config, lib, pkgs, options, ... }:
let
  inherit (lib) mkOption mkIf types literalExpression;
  cfg = config.age;
  c = import ./compat.nix { inherit lib; };

  # agenix's user directories: a shell expansion of the runtime directory (Linux).
  userDirectory = dir: "\${XDG_RUNTIME_DIR}/${dir}";
  userDirectoryDescription = dir: literalExpression ''"''${XDG_RUNTIME_DIR}"/${dir}'';
  # The same directory for materialize: `%t`, which the user unit resolves.
  runtime = c.runtimePath [ "\${XDG_RUNTIME_DIR}/" "$XDG_RUNTIME_DIR/" ];

  common = import ./agenix-common.nix { inherit lib config; };
  secretType = types.submodule ({ config, ... }: { options = common.secretOptions { inherit config; }; });
in
{
  imports = [ ./home-manager.nix ];

  options.age = {
    package = lib.mkPackageOption pkgs "age" { } // {
      description = "Not honoured (a warning when set): materialize decrypts age files itself.";
    };
    secrets = mkOption {
      type = types.attrsOf secretType;
      default = { };
      description = "Attrset of secrets.";
    };
    identityPaths = mkOption {
      type = types.listOf types.path;
      default = [
        "${config.home.homeDirectory}/.ssh/id_ed25519"
        "${config.home.homeDirectory}/.ssh/id_rsa"
      ];
      defaultText = literalExpression ''
        [
          "''${config.home.homeDirectory}/.ssh/id_ed25519"
          "''${config.home.homeDirectory}/.ssh/id_rsa"
        ]
      '';
      description = "Keys used as identities in age decryption (SSH keys or age identity files).";
    };
    secretsDir = mkOption {
      type = types.str;
      default = userDirectory "agenix";
      defaultText = userDirectoryDescription "agenix";
      description = "Folder where secrets are symlinked to.";
    };
    secretsMountPoint = mkOption {
      default = userDirectory "agenix.d";
      defaultText = userDirectoryDescription "agenix.d";
      description = "Where secrets are created before they are symlinked to {option}`age.secretsDir`.";
    };
  };

  config = mkIf (cfg.secrets != { }) {
    materialize.instances.agenix = common.instance // {
      secretsDir = runtime cfg.secretsDir;
      mountPoint = runtime cfg.secretsMountPoint;
      secrets = common.secrets (s: { path = runtime s.path; });
    };

    assertions = [
      {
        assertion = cfg.identityPaths != [ ];
        message = "age.identityPaths must be set.";
      }
    ]
    ++ common.entryAssertions;

    warnings = lib.optional (c.isSet options.age.package)
      "age.package is not honoured by materialize: it decrypts age files itself (X25519, ssh-ed25519 and ssh-rsa identities; no age plugins).";
  };
}
