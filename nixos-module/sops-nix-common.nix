# What sops-nix's NixOS and home-manager modules have in common, for sops-nix-compat.nix and
# sops-nix-compat-home.nix: the `sops.*` options both declare (names, types and defaults of
# Mic92/sops-nix at the commit named atop each module) and the parts of the mapping onto materialize
# that are the same. What differs stays in each module: paths and the runtime directory, the key
# options' defaults, ownership (NixOS only), neededForUsers, the units and the options one side has.
{ lib, pkgs, config, options }:
let
  inherit (lib) mkOption mkDefault types literalExpression;
  cfg = config.sops;
  c = import ./compat.nix { inherit lib; };

  # Placeholders of the secrets templates can use (sops-nix renders only those of its regular
  # manifest, not neededForUsers ones), by attribute name → the file's name.
  placeholderNames = lib.mapAttrs (_: s: s.name) (lib.filterAttrs (_: s: !(s.neededForUsers or false)) cfg.secrets);

  # The options of `names` the user set (for the "not honoured" warnings).
  setOptions = names: lib.filter (n: c.isSet (lib.attrByPath n null options.sops)) names;
in
rec {
  # sops-nix's `pathNotInStore`: a key outside the Nix store.
  pathNotInStore = lib.mkOptionType {
    name = "pathNotInStore";
    description = "path not in the Nix store";
    descriptionClass = "noun";
    check = x: !lib.hasPrefix "${builtins.storeDir}/" (toString x);
    merge = lib.mergeEqualOption;
  };

  # A secret's options that both declare alike (`where`: its directory, for the description); each
  # module adds `path` and what else it has.
  secretOptions = { name, where }: {
    name = mkOption {
      type = types.str;
      default = name;
      description = "Name of the file used in ${where}.";
    };
    key = mkOption {
      type = types.str;
      default = if cfg.defaultSopsKey != null then cfg.defaultSopsKey else name;
      description = ''Key looked up in the sops file ("/" for nested keys; "" means the whole file); ignored for binary, dotenv and ini files, which are written whole.'';
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
      default = cfg.defaultSopsFile;
      defaultText = literalExpression "\${config.sops.defaultSopsFile}";
      description = "Sops file the secret is loaded from.";
    };
  };

  # A template's options (`where`: the directory of rendered files, for the description; `path`:
  # where the file goes by default).
  templateOptions = { config, where, path }: {
    name = mkOption {
      type = types.singleLineStr;
      default = config._module.args.name;
      description = "Name of the file used in ${where}.";
    };
    path = mkOption {
      type = types.singleLineStr;
      default = path;
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

  # The `sops.*` options both declare. `built`: what validateSopsFiles checks at; `examples`: of
  # age.keyFile and gnupg.home; `keyPaths algo`: the default (and its text) of the SSH key lists.
  options = { secretType, templateType, built, examples, keyPaths }: {
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
      description = "Check all sops files when ${built}; they must be in the Nix store.";
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
        example = examples.ageKeyFile;
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
      sshKeyPaths = mkOption ({
        type = types.listOf types.path;
        description = "SSH keys used as age keys.";
      } // keyPaths "ed25519");
    };
    gnupg = {
      home = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = examples.gnupgHome;
        description = "GnuPG home holding the key for PGP-encrypted sops files.";
      };
      sshKeyPaths = mkOption ({
        type = types.listOf types.path;
        description = "SSH keys imported as PGP keys.";
      } // keyPaths "rsa");
      package = mkOption {
        type = types.package;
        default = pkgs.gnupg;
        defaultText = literalExpression "pkgs.gnupg";
        description = "Not honoured (a warning when set): materialize runs the `gnupg` of its nixpkgs.";
      };
    };
  };

  # As sops-nix, but for every secret (sops-nix defines them only once a template exists).
  placeholders = { sops.placeholder = lib.mapAttrs (name: _: mkDefault (c.placeholder name)) cfg.secrets; };

  # Whether there is anything to map.
  used = cfg.secrets != { } || cfg.templates != { };

  # The keys, as materialize names them.
  keys = {
    ageKeyFiles = lib.optional (cfg.age.keyFile != null) (toString cfg.age.keyFile);
    sshKeyPaths = map toString cfg.age.sshKeyPaths;
    gnupgHome = cfg.gnupg.home;
    gnupgSshKeyPaths = map toString cfg.gnupg.sshKeyPaths;
  };

  # Each secret by its file's name: its sops source, and `file s` (its path, mode, owner…).
  secrets = file: lib.mapAttrs' (_: s: lib.nameValuePair s.name (file s // {
    sops = { file = s.sopsFile; key = c.sopsKey s.format s.key; inherit (s) format; };
  })) cfg.secrets;

  # Each template as `rendered/<name>`: its text, with placeholders translated, and `file t`.
  templates = file: lib.mapAttrs' (_: t: lib.nameValuePair "rendered/${t.name}" (file t // templateText t)) cfg.templates;

  # A template's text for materialize: the content translated, or the file translated at build time.
  templateText = t:
    if t.content != "" then { content = c.translateContent placeholderNames t.content; }
    # The default `file` is the (empty) content itself.
    else if toString t.file == toString (pkgs.writeText t.name t.content) then { content = ""; }
    else { file = c.translateFile { inherit pkgs; inherit (t) name file; secrets = placeholderNames; }; };

  # age plugins cannot run here: an error naming them, and the keys to use instead.
  pluginsAssertion = {
    assertion = cfg.age.plugins == [ ];
    message = "sops.age.plugins is not supported by materialize: it decrypts age natively and cannot run age plugins (${lib.concatMapStringsSep ", " (p: p.name or (toString p)) cfg.age.plugins}), so secrets encrypted only to plugin recipients (YubiKey, TPM, …) could not be opened. Remove sops.age.plugins and add a key materialize can use (sops.age.keyFile, sops.age.sshKeyPaths, sops.gnupg.home).";
  };

  # Each name is one file (sops-nix's `name` option may give two entries the same one); placeholders
  # in a template file are translated when the system is built: it must be there.
  entryAssertions =
    c.uniqueNames "sops.secrets" cfg.secrets
    ++ c.uniqueNames "sops.templates" cfg.templates
    ++ lib.mapAttrsToList (name: t: {
      assertion = t.content != "" || c.inStore t.file;
      message = "sops.templates.${lib.strings.escapeNixIdentifier name}.file is ${toString t.file}, outside the Nix store: materialize translates sops-nix's placeholders in it when the system is built, so give it as a path (./template.conf) or a derivation.";
    }) cfg.templates;

  # What is set but not honoured. `keyAdvice`: when and how to make the age key; `journal`: the
  # command that shows the unit's log; `packages`: the package options this side has.
  warnings = { keyAdvice, journal, packages }:
    lib.optional cfg.age.generateKey
      "sops.age.generateKey is not honoured by materialize: no key is generated, so ${toString cfg.age.keyFile} must exist before the secrets are applied (create it with `age-keygen -o ${toString cfg.age.keyFile}`${keyAdvice} and add its public key to .sops.yaml)."
    ++ lib.optional (cfg.log != [ "keyImport" "secretChanges" ])
      "sops.log is not honoured by materialize: every run logs its keys and changes (names, never values) to the journal (${journal})."
    ++ lib.optional (cfg.environment != { })
      "sops.environment is not honoured by materialize (${lib.concatStringsSep ", " (lib.attrNames cfg.environment)}): it runs no sops or gpg process to pass them to; give keys with sops.age.keyFile, sops.age.sshKeyPaths or sops.gnupg.home."
    ++ map (n: "sops.${lib.concatStringsSep "." n} is not honoured by materialize: ${if n == [ "gnupg" "package" ] then "gpg comes from the nixpkgs materialize is built with" else "materialize.package applies and checks the secrets"}.")
      (setOptions packages);
}
