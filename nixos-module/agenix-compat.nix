# agenix compatibility (NixOS): declares agenix's `age.*` options with the names, types and
# defaults of ryantm/agenix (modules/age.nix at commit b027ee29d959fda4b60b57566d64c98a202e0feb,
# read for facts only) and maps them onto a materialize instance of their own: the files land where
# agenix puts them (/run/agenix/<name>, a symlink to the generation in /run/agenix.d), owned
# `owner:group` (root by default) with their mode, and `symlink = false` puts a real copy at `path`.
# Swap `agenix.nixosModules.default` for `materialize.nixosModules.agenix-compat`; the sops-nix
# compatibility module and `materialize.*` can be used beside it.
{ config, lib, pkgs, options, ... }:
let
  inherit (lib) mkOption mkIf mkEnableOption types literalExpression;
  cfg = config.age;
  c = import ./compat.nix { inherit lib; };
  users = config.users.users;

  secretType = types.submodule ({ config, ... }: {
    options = {
      name = mkOption {
        type = types.str;
        default = config._module.args.name;
        defaultText = literalExpression "config._module.args.name";
        description = "Name of the file used in {option}`age.secretsDir`.";
      };
      file = mkOption {
        type = types.path;
        description = "Age file the secret is loaded from.";
      };
      path = mkOption {
        type = types.str;
        default = "${cfg.secretsDir}/${config.name}";
        defaultText = literalExpression ''"''${cfg.secretsDir}/''${config.name}"'';
        description = "Path where the decrypted secret is installed.";
      };
      mode = mkOption {
        type = types.str;
        default = "0400";
        description = "Permissions mode of the decrypted secret, in octal.";
      };
      owner = mkOption {
        type = types.str;
        default = "0";
        description = "User of the decrypted secret (a name or a numeric id).";
      };
      group = mkOption {
        type = types.str;
        default = users.${config.owner}.group or "0";
        defaultText = literalExpression ''users.''${config.owner}.group or "0"'';
        description = "Group of the decrypted secret (a name or a numeric id).";
      };
      symlink = mkEnableOption "symlinking secrets to their destination" // { default = true; };
    };
  });

  secrets = lib.attrValues cfg.secrets;
  # Secrets read as a user's password file: agenix decrypts before users are created, so these must
  # be there when the `users` activation snippet runs.
  passwordFiles = lib.filter (p: p != null) (lib.mapAttrsToList (_: u: u.hashedPasswordFile or null) users);
  forUsers = lib.filter (s: lib.elem s.path passwordFiles) secrets;
  named = v: v != null && !(builtins.isInt v) && v != "root";
in
{
  imports = [
    ./.
    (lib.mkRenamedOptionModule [ "age" "sshKeyPaths" ] [ "age" "identityPaths" ])
  ];

  options.age = {
    ageBin = mkOption {
      type = types.str;
      default = "${pkgs.age}/bin/age";
      defaultText = literalExpression ''"''${pkgs.age}/bin/age"'';
      description = "Not honoured (a warning when set): materialize decrypts age files itself.";
    };
    secrets = mkOption {
      type = types.attrsOf secretType;
      default = { };
      description = "Attrset of secrets.";
    };
    secretsDir = mkOption {
      type = types.path;
      default = "/run/agenix";
      description = "Folder where secrets are symlinked to.";
    };
    secretsMountPoint = mkOption {
      type = types.addCheck types.str (s: builtins.match "[ \t\n]*" s == null && builtins.match ".+/" s == null) // {
        description = "${types.str.description} (with check: non-empty without trailing slash)";
      };
      default = "/run/agenix.d";
      description = "Where secrets are created before they are symlinked to {option}`age.secretsDir`.";
    };
    identityPaths = mkOption {
      type = types.listOf types.path;
      default =
        if config.services.openssh.enable or false
        then map (e: e.path) (lib.filter (e: e.type == "rsa" || e.type == "ed25519") config.services.openssh.hostKeys)
        else [ ];
      defaultText = literalExpression ''
        if (config.services.openssh.enable or false)
        then map (e: e.path) (lib.filter (e: e.type == "rsa" || e.type == "ed25519") config.services.openssh.hostKeys)
        else [];
      '';
      description = "Keys used as identities in age decryption (SSH keys or age identity files).";
    };
  };

  config = mkIf (cfg.secrets != { }) {
    materialize.instances.agenix = {
      secretsDir = toString cfg.secretsDir;
      mountPoint = cfg.secretsMountPoint;
      mount = "ramfs";
      # agenix removes the previous generation on each run.
      keepGenerations = 1;
      # agenix passes every identity to `age -i`, which reads age identity files and SSH keys alike.
      keys = { ageKeyFiles = map toString cfg.identityPaths; sshKeyPaths = [ ]; gnupgHome = null; };
      # agenix reads files anywhere; the build-time check needs them in the store.
      validateSecrets = lib.mkDefault (config.materialize.validateSecrets && lib.all (s: c.inStore s.file) secrets);
      beforeUsers = forUsers != [ ];
      secrets = lib.listToAttrs (map (s: lib.nameValuePair s.name {
        age.file = s.file;
        owner = c.ageOwner s.owner;
        group = c.ageGroup s.owner s.group;
        inherit (s) mode path symlink;
      }) secrets);
    };

    assertions = [
      {
        assertion = cfg.identityPaths != [ ];
        message = "age.identityPaths must be set, for example by enabling openssh.";
      }
    ] ++ c.uniqueNames "age.secrets" cfg.secrets
    ++ map (s: {
      assertion = builtins.match "[0-7]{3,4}" s.mode != null;
      message = "age.secrets.${lib.strings.escapeNixIdentifier s.name}.mode is \"${s.mode}\": materialize takes an octal mode (\"0400\", \"0440\"), not chmod's symbolic form.";
    }) secrets;

    warnings =
      lib.optional (c.isSet options.age.ageBin)
        "age.ageBin is not honoured by materialize: it decrypts age files itself (X25519, ssh-ed25519 and ssh-rsa identities; no age plugins)."
      ++ lib.optional (forUsers != [ ] && lib.any named (lib.concatMap (s: [ (c.ageOwner s.owner) (c.ageGroup s.owner s.group) ]) secrets))
        "age.secrets: ${lib.concatMapStringsSep ", " (s: s.name) forUsers} ${if builtins.length forUsers == 1 then "is a password file" else "are password files"}, so ${toString cfg.secretsDir} is also applied before users are created. Where the users and groups that own its other secrets do not exist yet (the first boot of a fresh image), that early run fails (exit 78, logged) and the password is only set at the next activation. Numeric owners and groups avoid it.";
  };
}
