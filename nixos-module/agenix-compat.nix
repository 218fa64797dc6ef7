# agenix compatibility (NixOS): declares agenix's `age.*` options with the names, types and
# defaults of ryantm/agenix (modules/age.nix at commit b027ee29d959fda4b60b57566d64c98a202e0feb,
# read for facts only) and maps them onto a materialize instance of their own: the files land where
# agenix puts them (/run/agenix/<name>, a symlink to the generation in /run/agenix.d), owned
# `owner:group` (root by default) with their mode, and `symlink = false` puts a real copy at `path`.
# Swap `agenix.nixosModules.default` for `materialize.nixosModules.agenix-compat`; the sops-nix
# compatibility module and `materialize.*` can be used beside it. What it shares with the
# home-manager module is in agenix-common.nix.
{ config, lib, pkgs, options, ... }:
let
  inherit (lib) mkOption mkIf types literalExpression;
  cfg = config.age;
  c = import ./compat.nix { inherit lib; };
  users = config.users.users;

  common = import ./agenix-common.nix { inherit lib config; };

  secretType = types.submodule ({ config, ... }: {
    options = common.secretOptions { inherit config; } // {
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
    };
  });

  secrets = lib.attrValues cfg.secrets;
  # Secrets read as a user's password file: agenix decrypts before users are created, so these must
  # be there when the `users` activation snippet runs.
  passwordFiles = lib.filter (p: p != null) (lib.mapAttrsToList (_: u: u.hashedPasswordFile or null) users);
  forUsers = lib.filter (s: lib.elem s.path passwordFiles) secrets;
  # An owner or group given by a name other than root's: it may not exist yet when the early run comes.
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
    materialize.instances.agenix = common.instance // {
      secretsDir = toString cfg.secretsDir;
      mountPoint = cfg.secretsMountPoint;
      mount = "ramfs";
      beforeUsers = forUsers != [ ];
      secrets = common.secrets (s: {
        owner = c.ageOwner s.owner;
        group = c.ageGroup s.owner s.group;
        inherit (s) path;
      });
    };

    assertions = [
      {
        assertion = cfg.identityPaths != [ ];
        message = "age.identityPaths must be set, for example by enabling openssh.";
      }
    ] ++ common.entryAssertions;

    warnings =
      lib.optional (c.isSet options.age.ageBin)
        "age.ageBin is not honoured by materialize: it decrypts age files itself (X25519, ssh-ed25519 and ssh-rsa identities; no age plugins)."
      ++ lib.optional (forUsers != [ ] && lib.any named (lib.concatMap (s: [ (c.ageOwner s.owner) (c.ageGroup s.owner s.group) ]) secrets))
        "age.secrets: ${lib.concatMapStringsSep ", " (s: s.name) forUsers} ${if builtins.length forUsers == 1 then "is a password file" else "are password files"}, so ${toString cfg.secretsDir} is also applied before users are created. Where the users and groups that own its other secrets do not exist yet (the first boot of a fresh image), that early run fails (exit 78, logged) and the password is only set at the next activation. Numeric owners and groups avoid it.";
  };
}
