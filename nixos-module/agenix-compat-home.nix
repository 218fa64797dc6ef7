# agenix compatibility (home-manager): declares the `age.*` options of agenix's home-manager module
# with its names, types and defaults (ryantm/agenix modules/age-home.nix at commit
# b027ee29d959fda4b60b57566d64c98a202e0feb, read for facts only) and maps them onto a materialize
# instance of their own: `${XDG_RUNTIME_DIR}/agenix/<name>`, generations in
# `${XDG_RUNTIME_DIR}/agenix.d`, applied by the user unit `materialize-secrets-agenix`. Swap
# `agenix.homeManagerModules.default` for `materialize.homeManagerModules.agenix-compat`.
{ config, lib, pkgs, options, ... }:
let
  inherit (lib) mkOption mkIf mkEnableOption types literalExpression;
  cfg = config.age;
  c = import ./compat.nix { inherit lib; };

  # agenix's user directories: a shell expansion of the runtime directory (Linux).
  userDirectory = dir: "\${XDG_RUNTIME_DIR}/${dir}";
  userDirectoryDescription = dir: literalExpression ''"''${XDG_RUNTIME_DIR}"/${dir}'';
  # The same directory for materialize: `%t`, which the user unit resolves.
  runtime = c.runtimePath [ "\${XDG_RUNTIME_DIR}/" "$XDG_RUNTIME_DIR/" ];

  secretType = types.submodule ({ config, name, ... }: {
    options = {
      name = mkOption {
        type = types.str;
        default = name;
        description = "Name of the file used in {option}`age.secretsDir`.";
      };
      file = mkOption {
        type = types.path;
        description = "Age file the secret is loaded from.";
      };
      path = mkOption {
        type = types.str;
        default = "${cfg.secretsDir}/${config.name}";
        description = "Path where the decrypted secret is installed.";
      };
      mode = mkOption {
        type = types.str;
        default = "0400";
        description = "Permissions mode of the decrypted secret, in octal.";
      };
      symlink = mkEnableOption "symlinking secrets to their destination" // { default = true; };
    };
  });
  secrets = lib.attrValues cfg.secrets;
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
    materialize.instances.agenix = {
      secretsDir = runtime cfg.secretsDir;
      mountPoint = runtime cfg.secretsMountPoint;
      keepGenerations = 1;
      keys = { ageKeyFiles = map toString cfg.identityPaths; sshKeyPaths = [ ]; gnupgHome = null; };
      validateSecrets = lib.mkDefault (config.materialize.validateSecrets && lib.all (s: c.inStore s.file) secrets);
      secrets = lib.listToAttrs (map (s: lib.nameValuePair s.name {
        age.file = s.file;
        inherit (s) mode symlink;
        path = runtime s.path;
      }) secrets);
    };

    assertions = [
      {
        assertion = cfg.identityPaths != [ ];
        message = "age.identityPaths must be set.";
      }
    ]
    ++ c.uniqueNames "age.secrets" cfg.secrets
    ++ map (s: {
      assertion = builtins.match "[0-7]{3,4}" s.mode != null;
      message = "age.secrets.${lib.strings.escapeNixIdentifier s.name}.mode is \"${s.mode}\": materialize takes an octal mode (\"0400\", \"0440\"), not chmod's symbolic form.";
    }) secrets;

    warnings = lib.optional (c.isSet options.age.package)
      "age.package is not honoured by materialize: it decrypts age files itself (X25519, ssh-ed25519 and ssh-rsa identities; no age plugins).";
  };
}
