# sops-nix compatibility (NixOS): declares sops-nix's `sops.*` options with the names, types and
# defaults of Mic92/sops-nix (modules/sops/default.nix, templates/, secrets-for-users/ at commit
# 56b24064fdcaedca53553b1a6d607fd23b613a24, read for facts only) and maps them onto
# `materialize.*`. Swap `sops-nix.nixosModules.sops` for `materialize.nixosModules.sops-nix-compat`
# and keep the configuration: the files land where sops-nix puts them (/run/secrets/<name>,
# /run/secrets/rendered/<template>, /run/secrets-for-users/<name>), with the same owners and modes.
# What cannot be honoured is a warning or an error naming the option (README, "Compatibility").
{ config, lib, pkgs, options, ... }:
let
  inherit (lib) mkOption mkIf mkMerge mkDefault mkOptionDefault types literalExpression literalMD;
  cfg = config.sops;
  c = import ./compat.nix { inherit lib; };
  users = config.users.users;

  # sops-nix's `pathNotInStore`: a key outside the Nix store.
  pathNotInStore = lib.mkOptionType {
    name = "pathNotInStore";
    description = "path not in the Nix store";
    descriptionClass = "noun";
    check = x: !lib.hasPrefix "${builtins.storeDir}/" (toString x);
    merge = lib.mergeEqualOption;
  };

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
    config = {
      sopsFile = mkOptionDefault cfg.defaultSopsFile;
      sopsFileHash = mkOptionDefault (lib.optionalString cfg.validateSopsFiles "${builtins.hashFile "sha256" config.sopsFile}");
    };
    options = ownership { inherit config; str = types.str; } // {
      name = mkOption {
        type = types.str;
        default = config._module.args.name;
        description = "Name of the file used in /run/secrets.";
      };
      key = mkOption {
        type = types.str;
        default = if cfg.defaultSopsKey != null then cfg.defaultSopsKey else config._module.args.name;
        description = ''Key looked up in the sops file ("/" for nested keys; "" means the whole file); ignored for binary, dotenv and ini files, which are written whole.'';
      };
      path = mkOption {
        type = types.str;
        default = if config.neededForUsers then "/run/secrets-for-users/${config.name}" else "/run/secrets/${config.name}";
        defaultText = "/run/secrets-for-users/$name when neededForUsers is set, /run/secrets/$name when otherwise.";
        description = "Path where the secret is found; another value becomes a symlink to it.";
      };
      format = mkOption {
        type = types.enum [ "yaml" "json" "binary" "dotenv" "ini" ];
        default = cfg.defaultSopsFormat;
        description = "Format of the sops file. Binary files are written to the target file as is.";
      };
      mode = mkOption {
        type = types.str;
        default = "0400";
        description = "Permissions mode, in octal.";
      };
      sopsFile = mkOption {
        type = types.path;
        defaultText = literalExpression "\${config.sops.defaultSopsFile}";
        description = "Sops file the secret is loaded from.";
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
    options = ownership { inherit config; str = types.singleLineStr; } // {
      name = mkOption {
        type = types.singleLineStr;
        default = config._module.args.name;
        description = "Name of the file used in /run/secrets/rendered.";
      };
      path = mkOption {
        type = types.singleLineStr;
        default = "/run/secrets/rendered/${config.name}";
        description = "Path where the rendered file will be placed.";
      };
      content = mkOption {
        type = types.lines;
        default = "";
        description = "Content of the file, with `config.sops.placeholder.<secret>` where a secret goes.";
      };
      mode = mkOption {
        type = types.singleLineStr;
        default = "0400";
        description = "Permissions mode of the rendered file, in octal.";
      };
      file = mkOption {
        type = types.path;
        default = pkgs.writeText config.name config.content;
        defaultText = literalExpression "pkgs.writeText config.name config.content";
        example = "./configuration-template.conf";
        description = "File used as the template, read when `content` is empty (as sops-install-secrets does).";
      };
    };
  });

  # sops-nix's default keys: the host keys of that type, except ones sops itself deploys.
  defaultImportKeys = algo:
    if config.services.openssh.enable
    then map (e: e.path) (lib.filter (e: e.type == algo && !(lib.hasPrefix "/run/secrets" e.path)) config.services.openssh.hostKeys)
    else [ ];

  regularSecrets = lib.filterAttrs (_: s: !s.neededForUsers) cfg.secrets;
  # Placeholders of the secrets templates can use (sops-nix renders only those of its regular
  # manifest), by attribute name → the file's name.
  placeholderNames = lib.mapAttrs (_: s: s.name) regularSecrets;
  used = cfg.secrets != { } || cfg.templates != { };

  principal = v: if v == "" then null else v;
  fileOf = entry: {
    owner = principal (c.sopsOwner entry);
    group = principal (c.sopsGroup entry);
    inherit (entry) mode path restartUnits reloadUnits;
  };

  templateText = t:
    if t.content != "" then { content = c.translateContent placeholderNames t.content; }
    # The default `file` is the (empty) content itself.
    else if toString t.file == toString (pkgs.writeText t.name t.content) then { content = ""; }
    else { file = c.translateFile { inherit pkgs; inherit (t) name file; secrets = placeholderNames; }; };

  setOptions = names: lib.filter (n: c.isSet (lib.attrByPath n null options.sops)) names;
in
{
  imports = [
    ./.
    (lib.mkRenamedOptionModule [ "sops" "gnupgHome" ] [ "sops" "gnupg" "home" ])
    (lib.mkRenamedOptionModule [ "sops" "sshKeyPaths" ] [ "sops" "gnupg" "sshKeyPaths" ])
  ];

  options.sops = {
    secrets = mkOption {
      type = types.attrsOf secretType;
      default = { };
      description = "Secrets to decrypt, by name.";
    };
    templates = mkOption {
      type = types.attrsOf templateType;
      default = { };
      description = "Templates for secret files.";
    };
    placeholder = mkOption {
      type = types.attrsOf (lib.mkOptionType {
        name = "coercibleToString";
        description = "value that can be coerced to string";
        check = lib.strings.isConvertibleWithToString;
        merge = lib.mergeEqualOption;
      });
      default = { };
      visible = false;
    };
    defaultSopsFile = mkOption {
      type = types.path;
      description = "Default sops file used for all secrets.";
    };
    defaultSopsFormat = mkOption {
      type = types.str;
      default = "yaml";
      description = "Default sops format used for all secrets.";
    };
    defaultSopsKey = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = ''Default key used to look up all secrets ("" means the whole file).'';
    };
    validateSopsFiles = mkOption {
      type = types.bool;
      default = true;
      description = "Check all sops files when the system is built (`materialize.validateSecrets`); they must be in the Nix store.";
    };
    keepGenerations = mkOption {
      type = types.ints.unsigned;
      default = 1;
      description = "Number of secrets generations to keep; 0 disables pruning.";
    };
    log = mkOption {
      type = types.listOf (types.enum [ "keyImport" "secretChanges" ]);
      default = [ "keyImport" "secretChanges" ];
      description = "Not honoured (a warning when changed): materialize logs each run to the journal.";
    };
    environment = mkOption {
      type = types.attrsOf (types.either types.str types.path);
      default = { };
      description = "Not honoured (a warning when set): materialize runs no sops or gpg process to pass them to.";
    };
    package = mkOption {
      type = types.package;
      default = config.materialize.package;
      defaultText = literalExpression "config.materialize.package";
      description = "Not honoured (a warning when set): `materialize.package` applies the secrets.";
    };
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
    age = {
      keyFile = mkOption {
        type = types.nullOr pathNotInStore;
        default = null;
        example = "/var/lib/sops-nix/key.txt";
        description = "Path to the age key file used for sops decryption.";
      };
      plugins = mkOption {
        type = types.listOf types.package;
        default = [ ];
        description = "Not supported (an error when set): materialize decrypts age natively and runs no plugins.";
      };
      generateKey = mkOption {
        type = types.bool;
        default = false;
        description = "Not honoured (a warning when true): the key at `age.keyFile` must exist.";
      };
      sshKeyPaths = mkOption {
        type = types.listOf types.path;
        default = defaultImportKeys "ed25519";
        defaultText = literalMD "The ed25519 keys from {option}`config.services.openssh.hostKeys`";
        description = "SSH keys used as age keys.";
      };
    };
    gnupg = {
      home = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "/root/.gnupg";
        description = "GnuPG home holding the key for PGP-encrypted sops files.";
      };
      sshKeyPaths = mkOption {
        type = types.listOf types.path;
        default = defaultImportKeys "rsa";
        defaultText = literalMD "The rsa keys from {option}`config.services.openssh.hostKeys`";
        description = "SSH keys imported as PGP keys.";
      };
      package = mkOption {
        type = types.package;
        default = pkgs.gnupg;
        defaultText = literalExpression "pkgs.gnupg";
        description = "Not honoured (a warning when set): materialize runs the `gnupg` of its nixpkgs.";
      };
    };
  };

  config = mkMerge [
    # As sops-nix, but for every secret (sops-nix defines them only once a template exists).
    { sops.placeholder = lib.mapAttrs (name: _: mkDefault (c.placeholder name)) cfg.secrets; }

    (mkIf used {
      materialize.secrets = lib.mapAttrs' (_: s: lib.nameValuePair s.name (fileOf s // {
        sops = { file = s.sopsFile; key = c.sopsKey s.format s.key; inherit (s) format; };
        inherit (s) neededForUsers;
      })) cfg.secrets;

      materialize.templates = lib.mapAttrs' (_: t: lib.nameValuePair "rendered/${t.name}" (fileOf t // templateText t)) cfg.templates;

      materialize.age.keyFiles = lib.optional (cfg.age.keyFile != null) (toString cfg.age.keyFile);
      materialize.age.sshKeyPaths = map toString cfg.age.sshKeyPaths;
      materialize.gnupg.home = mkIf (cfg.gnupg.home != null) cfg.gnupg.home;
      materialize.gnupg.sshKeyPaths = map toString cfg.gnupg.sshKeyPaths;
      materialize.keepGenerations = mkDefault cfg.keepGenerations;
      materialize.mount = mkIf cfg.useTmpfs (mkDefault "tmpfs");
      materialize.validateSecrets = mkDefault cfg.validateSopsFiles;

      assertions = [
        {
          assertion = cfg.gnupg.home != null || cfg.gnupg.sshKeyPaths != [ ] || cfg.age.keyFile != null || cfg.age.sshKeyPaths != [ ];
          message = "No key source configured for sops. Either set services.openssh.enable or set sops.age.keyFile or sops.gnupg.home";
        }
        {
          assertion = cfg.age.plugins == [ ];
          message = "sops.age.plugins is not supported by materialize: it decrypts age natively and cannot run age plugins (${lib.concatMapStringsSep ", " (p: p.name or (toString p)) cfg.age.plugins}), so secrets encrypted only to plugin recipients (YubiKey, TPM, …) could not be opened. Remove sops.age.plugins and add a key materialize can use (sops.age.keyFile, sops.age.sshKeyPaths, sops.gnupg.home).";
        }
        {
          assertion = lib.all (s: lib.elem (c.sopsOwner s) [ null "root" 0 ] && lib.elem (c.sopsGroup s) [ null "root" 0 ]) (lib.attrValues (lib.filterAttrs (_: s: s.neededForUsers) cfg.secrets));
          message = "neededForUsers cannot be used for secrets that are not root-owned";
        }
      ]
      # Each name is one file (sops-nix's `name` option may give two entries the same one).
      ++ c.uniqueNames "sops.secrets" cfg.secrets
      ++ c.uniqueNames "sops.templates" cfg.templates
      # Placeholders in a template file are translated when the system is built: it must be there.
      ++ lib.mapAttrsToList (name: t: {
        assertion = t.content != "" || c.inStore t.file;
        message = "sops.templates.${lib.strings.escapeNixIdentifier name}.file is ${toString t.file}, outside the Nix store: materialize translates sops-nix's placeholders in it when the system is built, so give it as a path (./template.conf) or a derivation.";
      }) cfg.templates
      ++ lib.optionals cfg.validateSopsFiles (lib.concatLists (lib.mapAttrsToList (_: s: [
        {
          assertion = s.uid != null && s.uid != 0 -> s.owner == null;
          message = "In ${s.name} exactly one of sops.owner and sops.uid must be set";
        }
        {
          assertion = s.gid != null && s.gid != 0 -> s.group == null;
          message = "In ${s.name} exactly one of sops.group and sops.gid must be set";
        }
      ]) cfg.secrets))
      ++ lib.concatLists (lib.mapAttrsToList (name: t: [
        {
          assertion = !(t.owner != null && t.uid != 0);
          message = "sops.templates.${name}: both `owner` and `uid` are set; use either `owner` or leave `uid` as 0.";
        }
        {
          assertion = !(t.group != null && t.gid != 0);
          message = "sops.templates.${name}: both `group` and `gid` are set; use either `group` or leave `gid` as 0.";
        }
      ]) cfg.templates);

      warnings =
        lib.optional cfg.age.generateKey
          "sops.age.generateKey is not honoured by materialize: no key is generated, so ${toString cfg.age.keyFile} must exist before the secrets are applied (create it with `age-keygen -o ${toString cfg.age.keyFile}` when you install the machine and add its public key to .sops.yaml)."
        ++ lib.optional (cfg.log != [ "keyImport" "secretChanges" ])
          "sops.log is not honoured by materialize: every run logs its keys and changes (names, never values) to the journal (journalctl -u materialize-secrets)."
        ++ lib.optional (cfg.environment != { })
          "sops.environment is not honoured by materialize (${lib.concatStringsSep ", " (lib.attrNames cfg.environment)}): it runs no sops or gpg process to pass them to; give keys with sops.age.keyFile, sops.age.sshKeyPaths or sops.gnupg.home."
        ++ map (n: "sops.${lib.concatStringsSep "." n} is not honoured by materialize: ${if n == [ "gnupg" "package" ] then "gpg comes from the nixpkgs materialize is built with" else "materialize.package applies and checks the secrets"}.")
          (setOptions [ [ "package" ] [ "validationPackage" ] [ "gnupg" "package" ] ]);
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
