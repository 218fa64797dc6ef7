# sops-nix compatibility (home-manager): declares the `sops.*` options of sops-nix's home-manager
# module with its names, types and defaults (Mic92/sops-nix modules/home-manager/sops.nix and
# templates.nix at commit 56b24064fdcaedca53553b1a6d607fd23b613a24, read for facts only) and maps
# them onto a materialize instance of their own: the latest generation at
# ~/.config/sops-nix/secrets (a symlink into $XDG_RUNTIME_DIR/secrets.d), templates under its
# `rendered/`, applied by the user unit `materialize-secrets-sops-nix`. Swap
# `sops-nix.homeManagerModules.sops` for `materialize.homeManagerModules.sops-nix-compat`.
{ config, lib, pkgs, options, ... }:
let
  inherit (lib) mkOption mkIf mkMerge mkDefault types literalExpression;
  cfg = config.sops;
  c = import ./compat.nix { inherit lib; };

  pathNotInStore = lib.mkOptionType {
    name = "pathNotInStore";
    description = "path not in the Nix store";
    descriptionClass = "noun";
    check = x: !lib.hasPrefix "${builtins.storeDir}/" (toString x);
    merge = lib.mergeEqualOption;
  };

  secretType = types.submodule ({ name, ... }: {
    options = {
      name = mkOption {
        type = types.str;
        default = name;
        description = "Name of the file used in the secrets directory.";
      };
      key = mkOption {
        type = types.str;
        default = if cfg.defaultSopsKey != null then cfg.defaultSopsKey else name;
        description = ''Key looked up in the sops file ("/" for nested keys; "" means the whole file); ignored for binary, dotenv and ini files.'';
      };
      path = mkOption {
        type = types.str;
        default = "${cfg.defaultSymlinkPath}/${name}";
        description = "Path where the secret is found (`%r` is the runtime directory); another value becomes a symlink.";
      };
      format = mkOption {
        type = types.enum [ "yaml" "json" "binary" "ini" "dotenv" ];
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
        default = cfg.defaultSopsFile;
        defaultText = literalExpression "\${config.sops.defaultSopsFile}";
        description = "Sops file the secret is loaded from.";
      };
    };
  });

  templateType = types.submodule ({ config, ... }: {
    options = {
      name = mkOption {
        type = types.singleLineStr;
        default = config._module.args.name;
        description = "Name of the file used in the `rendered` directory.";
      };
      path = mkOption {
        type = types.singleLineStr;
        default = "${hmConfig.xdg.configHome}/sops-nix/secrets/rendered/${config.name}";
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
        description = "File used as the template, read when `content` is empty.";
      };
    };
  });
  hmConfig = config;

  # The runtime directory: `%r` in sops-nix, `%t` in materialize (and systemd).
  runtime = c.runtimePath [ "%r/" ];
  placeholderNames = lib.mapAttrs (_: s: s.name) cfg.secrets;
  templateText = t:
    if t.content != "" then { content = c.translateContent placeholderNames t.content; }
    else if toString t.file == toString (pkgs.writeText t.name t.content) then { content = ""; }
    else { file = c.translateFile { inherit pkgs; inherit (t) name file; secrets = placeholderNames; }; };
  setOptions = names: lib.filter (n: c.isSet (lib.attrByPath n null options.sops)) names;
in
{
  imports = [ ./home-manager.nix ];

  options.sops = {
    secrets = mkOption {
      type = types.attrsOf secretType;
      default = { };
      description = "Secrets to decrypt.";
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
      description = "Check all sops files when the configuration is built; they must be in the Nix store.";
    };
    defaultSymlinkPath = mkOption {
      type = types.str;
      default = "${config.xdg.configHome}/sops-nix/secrets";
      description = "Where the latest generation of secrets is found.";
    };
    defaultSecretsMountPoint = mkOption {
      type = types.str;
      default = "%r/secrets.d";
      description = "Where generations of secrets are stored (`%r` is the runtime directory).";
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
    age = {
      keyFile = mkOption {
        type = types.nullOr pathNotInStore;
        default = null;
        example = "/home/someuser/.age-key.txt";
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
        default = [ ];
        description = "SSH keys used as age keys.";
      };
    };
    gnupg = {
      package = mkOption {
        type = types.package;
        default = pkgs.gnupg;
        defaultText = literalExpression "pkgs.gnupg";
        description = "Not honoured (a warning when set): materialize runs the `gnupg` of its nixpkgs.";
      };
      home = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "/home/someuser/.gnupg";
        description = "GnuPG home holding the key for PGP-encrypted sops files.";
      };
      qubes-split-gpg = {
        enable = lib.mkEnableOption "Qubes Split GPG (not supported by materialize: an error when enabled)";
        domain = mkOption {
          type = types.nullOr types.str;
          default = null;
          example = "vault-gpg";
          description = "The Qube holding the GPG keys (not supported by materialize).";
        };
      };
      sshKeyPaths = mkOption {
        type = types.listOf types.path;
        default = [ ];
        description = "SSH keys imported as PGP keys.";
      };
    };
  };

  config = mkMerge [
    { sops.placeholder = lib.mapAttrs (name: _: mkDefault (c.placeholder name)) cfg.secrets; }

    (mkIf (cfg.secrets != { } || cfg.templates != { }) {
      materialize.instances.sops-nix = {
        secretsDir = runtime cfg.defaultSymlinkPath;
        mountPoint = runtime cfg.defaultSecretsMountPoint;
        inherit (cfg) keepGenerations;
        validateSecrets = cfg.validateSopsFiles;
        keys = {
          ageKeyFiles = lib.optional (cfg.age.keyFile != null) (toString cfg.age.keyFile);
          sshKeyPaths = map toString cfg.age.sshKeyPaths;
          gnupgHome = cfg.gnupg.home;
        } // lib.optionalAttrs (cfg.gnupg.sshKeyPaths != [ ]) { gnupgSshKeyPaths = map toString cfg.gnupg.sshKeyPaths; };
        secrets = lib.mapAttrs' (_: s: lib.nameValuePair s.name {
          sops = { file = s.sopsFile; key = c.sopsKey s.format s.key; inherit (s) format; };
          inherit (s) mode;
          path = runtime s.path;
        }) cfg.secrets;
        templates = lib.mapAttrs' (_: t: lib.nameValuePair "rendered/${t.name}" ({
          inherit (t) mode;
          path = runtime t.path;
        } // templateText t)) cfg.templates;
      };

      assertions = [
        {
          assertion = cfg.gnupg.home != null || cfg.gnupg.sshKeyPaths != [ ] || cfg.gnupg.qubes-split-gpg.enable || cfg.age.keyFile != null || cfg.age.sshKeyPaths != [ ];
          message = "No key source configured for sops. Either set services.openssh.enable or set sops.age.keyFile or sops.gnupg.home or sops.gnupg.qubes-split-gpg.enable";
        }
        {
          assertion = !cfg.gnupg.qubes-split-gpg.enable;
          message = "sops.gnupg.qubes-split-gpg is not supported by materialize: it runs gpg itself with sops.gnupg.home and cannot reach a key held in another Qube. Use sops.gnupg.home or an age key (sops.age.keyFile).";
        }
        {
          assertion = cfg.age.plugins == [ ];
          message = "sops.age.plugins is not supported by materialize: it decrypts age natively and cannot run age plugins (${lib.concatMapStringsSep ", " (p: p.name or (toString p)) cfg.age.plugins}), so secrets encrypted only to plugin recipients (YubiKey, TPM, …) could not be opened. Remove sops.age.plugins and add a key materialize can use (sops.age.keyFile, sops.age.sshKeyPaths, sops.gnupg.home).";
        }
      ]
      ++ c.uniqueNames "sops.secrets" cfg.secrets
      ++ c.uniqueNames "sops.templates" cfg.templates
      # Placeholders in a template file are translated when the system is built: it must be there.
      ++ lib.mapAttrsToList (name: t: {
        assertion = t.content != "" || c.inStore t.file;
        message = "sops.templates.${lib.strings.escapeNixIdentifier name}.file is ${toString t.file}, outside the Nix store: materialize translates sops-nix's placeholders in it when the system is built, so give it as a path (./template.conf) or a derivation.";
      }) cfg.templates;

      warnings =
        lib.optional cfg.age.generateKey
          "sops.age.generateKey is not honoured by materialize: no key is generated, so ${toString cfg.age.keyFile} must exist before the secrets are applied (create it with `age-keygen -o ${toString cfg.age.keyFile}` and add its public key to .sops.yaml)."
        ++ lib.optional (cfg.log != [ "keyImport" "secretChanges" ])
          "sops.log is not honoured by materialize: every run logs its keys and changes (names, never values) to the journal (journalctl --user -u materialize-secrets-sops-nix)."
        ++ lib.optional (cfg.environment != { })
          "sops.environment is not honoured by materialize (${lib.concatStringsSep ", " (lib.attrNames cfg.environment)}): it runs no sops or gpg process to pass them to; give keys with sops.age.keyFile, sops.age.sshKeyPaths or sops.gnupg.home."
        ++ map (n: "sops.${lib.concatStringsSep "." n} is not honoured by materialize: ${if n == [ "gnupg" "package" ] then "gpg comes from the nixpkgs materialize is built with" else "materialize.package applies and checks the secrets"}.")
          (setOptions [ [ "package" ] [ "gnupg" "package" ] ]);
    })
  ];
}
