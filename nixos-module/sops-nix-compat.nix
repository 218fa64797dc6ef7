# sops-nix compatibility (NixOS): declares sops-nix's `sops.*` options with the names, types and
# defaults of Mic92/sops-nix (modules/sops/default.nix, templates/, secrets-for-users/ at commit
# 56b24064fdcaedca53553b1a6d607fd23b613a24, read for facts only) and maps them onto
# `materialize.*` (what it shares with the home-manager module is in sops-nix-common.nix). Swap `sops-nix.nixosModules.sops` for `materialize.nixosModules.sops-nix-compat`
# and keep the configuration: the files land where sops-nix puts them (/run/secrets/<name>,
# /run/secrets/rendered/<template>, /run/secrets-for-users/<name>), with the same owners and modes.
# What cannot be honoured is a warning or an error naming the option (README, "Coming from sops-nix or agenix").
{ config, lib, pkgs, options, ... }:
let
  inherit (lib) mkOption mkIf mkMerge mkDefault mkOptionDefault types literalExpression literalMD;
  cfg = config.sops;
  c = import ./compat.nix { inherit lib; };
  users = config.users.users;

  common = import ./sops-nix-common.nix { inherit lib pkgs config options; };

  # `owner`/`uid`, `group`/`gid`, as in sops-nix; the group defaults to the owner's primary group
  # from users.users (null when the owner is not declared there: sops-nix fails to evaluate, #717).
  ownership = { config, str }: {
    owner = mkOption {
      type = types.nullOr str;
      default = null;
      description = "User of the file. Can only be set if uid is 0.";
    };
    uid = mkOption {
      type = types.nullOr types.int;
      default = 0;
      description = "UID of the file, only applied when owner is null. Applied even if no such user exists.";
    };
    group = mkOption {
      type = types.nullOr str;
      default = if config.owner != null then users.${config.owner}.group or null else null;
      defaultText = literalMD "{option}`config.users.users.\${owner}.group`";
      description = "Group of the file. Can only be set if gid is 0.";
    };
    gid = mkOption {
      type = types.nullOr types.int;
      default = 0;
      description = "GID of the file, only applied when group is null. Applied even if no such group exists.";
    };
    restartUnits = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "sshd.service" ];
      description = "Units restarted when the file changes (a name without suffix is a `.service`).";
    };
    reloadUnits = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "sshd.service" ];
      description = "Units reloaded when the file changes.";
    };
  };

  secretType = types.submodule ({ config, ... }: {
    config.sopsFileHash = mkOptionDefault (lib.optionalString cfg.validateSopsFiles "${builtins.hashFile "sha256" config.sopsFile}");
    options = ownership { inherit config; str = types.str; } // common.secretOptions { name = config._module.args.name; where = "/run/secrets"; } // {
      path = mkOption {
        type = types.str;
        default = if config.neededForUsers then "/run/secrets-for-users/${config.name}" else "/run/secrets/${config.name}";
        defaultText = "/run/secrets-for-users/$name when neededForUsers is set, /run/secrets/$name when otherwise.";
        description = "Path where the secret is found; another value becomes a symlink to it.";
      };
      sopsFileHash = mkOption {
        type = types.str;
        readOnly = true;
        description = "Hash of the sops file, useful in `systemd.services.<name>.restartTriggers`.";
      };
      neededForUsers = mkOption {
        type = types.bool;
        default = false;
        description = "Decrypt the secret before users are created (under /run/secrets-for-users); it must be owned by root.";
      };
    };
  });

  templateType = types.submodule ({ config, ... }: {
    options = ownership { inherit config; str = types.singleLineStr; }
      // common.templateOptions { inherit config; where = "/run/secrets/rendered"; path = "/run/secrets/rendered/${config.name}"; };
  });

  # sops-nix's default keys: the host keys of that type, except ones sops itself deploys.
  hostKeys = algo: {
    default =
      if config.services.openssh.enable
      then map (e: e.path) (lib.filter (e: e.type == algo && !(lib.hasPrefix "/run/secrets" e.path)) config.services.openssh.hostKeys)
      else [ ];
    defaultText = literalMD "The ${algo} keys from {option}`config.services.openssh.hostKeys`";
  };

  # The two ways an entry names who owns it (sops-nix's owner/uid, group/gid), for `f user id`.
  principals = f: [ (f "owner" "uid") (f "group" "gid") ];

  # An empty owner or group names no one: root, materialize's default.
  principal = v: if v == "" then null else v;
  # What materialize takes from a secret or template besides its text: owner, group, mode, path, units.
  fileOf = entry: {
    owner = principal (c.sopsOwner entry);
    group = principal (c.sopsGroup entry);
    inherit (entry) mode path restartUnits reloadUnits;
  };
in
{
  imports = [
    ./.
    (lib.mkRenamedOptionModule [ "sops" "gnupgHome" ] [ "sops" "gnupg" "home" ])
    (lib.mkRenamedOptionModule [ "sops" "sshKeyPaths" ] [ "sops" "gnupg" "sshKeyPaths" ])
  ];

  options.sops = common.options {
    inherit secretType templateType;
    built = "the system is built (`materialize.validateSecrets`)";
    examples = { ageKeyFile = "/var/lib/sops-nix/key.txt"; gnupgHome = "/root/.gnupg"; };
    keyPaths = hostKeys;
  } // {
    validationPackage = mkOption {
      type = types.package;
      default = config.sops.package;
      defaultText = literalExpression "config.sops.package";
      description = "Not honoured (a warning when set): `materialize check` validates the manifest.";
    };
    useTmpfs = mkOption {
      type = types.bool;
      default = false;
      description = "Use tmpfs instead of ramfs for the generations (`materialize.mount = \"tmpfs\"`).";
    };
    useSystemdActivation = mkOption {
      type = types.bool;
      default = (options.systemd ? sysusers && config.systemd.sysusers.enable) || (options.services ? userborn && config.services.userborn.enable);
      defaultText = literalExpression "(options.systemd ? sysusers && config.systemd.sysusers.enable) || (options.services ? userborn && config.services.userborn.enable)";
      description = "Accepted for compatibility: materialize always applies secrets with a systemd unit.";
    };
  };

  config = mkMerge [
    common.placeholders

    (mkIf common.used {
      materialize.secrets = common.secrets (s: fileOf s // { inherit (s) neededForUsers; });
      materialize.templates = common.templates fileOf;

      materialize.age.keyFiles = common.keys.ageKeyFiles;
      materialize.age.sshKeyPaths = common.keys.sshKeyPaths;
      materialize.gnupg.home = mkIf (cfg.gnupg.home != null) cfg.gnupg.home;
      materialize.gnupg.sshKeyPaths = common.keys.gnupgSshKeyPaths;
      materialize.keepGenerations = mkDefault cfg.keepGenerations;
      materialize.mount = mkIf cfg.useTmpfs (mkDefault "tmpfs");
      materialize.validateSecrets = mkDefault cfg.validateSopsFiles;

      assertions = [
        {
          assertion = cfg.gnupg.home != null || cfg.gnupg.sshKeyPaths != [ ] || cfg.age.keyFile != null || cfg.age.sshKeyPaths != [ ];
          message = "No key source configured for sops. Either set services.openssh.enable or set sops.age.keyFile or sops.gnupg.home";
        }
        common.pluginsAssertion
        {
          assertion = lib.all (s: lib.elem (c.sopsOwner s) [ null "root" 0 ] && lib.elem (c.sopsGroup s) [ null "root" 0 ]) (lib.attrValues (lib.filterAttrs (_: s: s.neededForUsers) cfg.secrets));
          message = "neededForUsers cannot be used for secrets that are not root-owned";
        }
      ]
      ++ common.entryAssertions
      # sops-nix's checks of owner/uid and group/gid, with its words: of secrets only when it
      # validates the sops files, of templates always.
      ++ lib.optionals cfg.validateSopsFiles (lib.concatMap (s: principals (user: id: {
        assertion = s.${id} != null && s.${id} != 0 -> s.${user} == null;
        message = "In ${s.name} exactly one of sops.${user} and sops.${id} must be set";
      })) (lib.attrValues cfg.secrets))
      ++ lib.concatLists (lib.mapAttrsToList (name: t: principals (user: id: {
        assertion = !(t.${user} != null && t.${id} != 0);
        message = "sops.templates.${name}: both `${user}` and `${id}` are set; use either `${user}` or leave `${id}` as 0.";
      })) cfg.templates);

      warnings = common.warnings {
        keyAdvice = " when you install the machine";
        journal = "journalctl -u materialize-secrets";
        packages = [ [ "package" ] [ "validationPackage" ] [ "gnupg" "package" ] ];
      };
    })

    # A template of the materialize module with a sops-nix placeholder in it would keep the
    # placeholder's text: only sops.templates translate them.
    {
      assertions = lib.mapAttrsToList (name: t: {
        assertion = t.content == null || !(lib.any (p: lib.hasInfix p t.content) (map c.placeholder (lib.attrNames cfg.secrets)));
        message = "materialize.templates.${lib.strings.escapeNixIdentifier name} uses config.sops.placeholder, which only sops.templates translate: use config.materialize.placeholder.<name> there, or move the template to sops.templates.";
      }) (lib.filterAttrs (name: _: !(lib.hasPrefix "rendered/" name && lib.any (t: "rendered/${t.name}" == name) (lib.attrValues cfg.templates))) config.materialize.templates);
    }
  ];
}
