# Shared by the NixOS and home-manager modules: option types and the translation of options into
# secrets.json (version 1, see the README). Deliberately thin: names, modes, owners, unit names and
# everything else the program can judge are left to `materialize check`, which runs at build time.
{ lib }:
let
  inherit (lib) mkOption types literalExpression;
in
rec {
  sopsFormats = [ "yaml" "json" "dotenv" "ini" "binary" ];

  # Providers that read local files only: a manifest that uses nothing else needs no network and can
  # run before sysinit.target. Anything else (1Password, Bitwarden, …) waits for the network.
  offlineProviders = [ "sops" "age" ];

  # Providers whose values come over the network (the program's `network: true`): their values are
  # sealed for the next outage, their calls budgeted, and they are refreshed on a timer.
  networkProviders = [ "onepassword" "bitwarden" ];

  # Refresh timer defaults and the like, shared with the portable units.
  unitSettings = lib.importJSON ./units.json;

  # Whether any of `secrets` reads a network source.
  usesNetworkSources = cfg: secrets: lib.any (p: lib.elem p networkProviders) (providersUsed cfg secrets);

  # `network` of secrets.json: where the sealed store and the call budget live, and their limits.
  networkOf = cfg:
    lib.optionalAttrs (cfg.network.stateDir != null) { inherit (cfg.network) stateDir; }
    // {
      seal = if cfg.network.seal.enable then { inherit (cfg.network.seal) maxAge; } else false;
      inherit (cfg.network) callsPerHour;
    };

  # Key and GnuPG locations are strings, never Nix path literals: a path literal would copy the
  # private key into the world-readable Nix store.
  absolutePathString = types.addCheck types.str (lib.hasPrefix "/") // {
    description = "absolute path given as a string (not a Nix path literal, which would copy the file into the world-readable Nix store)";
  };

  # Where a source file can be read by the build-time check: a path value (copied into the store by
  # the manifest) or a string already in the store ("${inputs.secrets}/x.yaml").
  inStore = value: builtins.isPath value || lib.hasPrefix "${builtins.storeDir}/" (toString value);

  # The provider key of one source ({ sops = {...}; } → "sops"); null when the set is empty.
  providerOf = source: let names = builtins.attrNames source; in if names == [ ] then null else builtins.head names;

  showName = name: "\"${name}\"";

  # The options shared by secrets and templates. `defaultPath` is where the file lands
  # (secretsDir/<name>); a different `path` becomes a symlink there.
  fileOptions = { defaultPath, defaultPathText }: {
    owner = mkOption {
      type = types.nullOr (types.either types.str types.ints.unsigned);
      default = null;
      example = "postgres";
      description = ''
        Owner of the file: a user name or a numeric id. Numeric ids need no entry in /etc/passwd
        (services with `DynamicUser=`, containers). Null: the user the program runs as (root for the
        system service).
      '';
    };
    group = mkOption {
      type = types.nullOr (types.either types.str types.ints.unsigned);
      default = null;
      description = "Group of the file: a name or a numeric id. Null: the owner's primary group.";
    };
    mode = mkOption {
      type = types.str;
      default = "0400";
      example = "0440";
      description = "Permissions, as an octal string. setuid, setgid and sticky bits are refused.";
    };
    path = mkOption {
      type = types.str;
      default = defaultPath;
      defaultText = literalExpression defaultPathText;
      description = ''
        Where consumers find the file. The default is the file itself; any other value is published as
        a symlink to it (so it follows every generation switch). Read it as
        `config.materialize.secrets.<name>.path`.
      '';
    };
    symlink = mkOption {
      type = types.bool;
      default = true;
      description = ''
        How a `path` other than the default is published: a symlink to the file (it follows every
        generation switch), or, when false, a real copy with the same owner and mode, replaced
        atomically and removed with the entry (for programs that refuse symlinks; agenix's
        `symlink = false`).
      '';
    };
    restartUnits = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "postgresql.service" ];
      description = ''
        Units restarted (`try-restart`) when this file's content, owner, group or mode changes, or when
        it is removed. Each `.service` listed here is also ordered after `materialize-secrets.target`.
      '';
    };
    reloadUnits = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "Units reloaded (`try-reload-or-restart`) on the same changes.";
    };
  };

  # A secret: a source shorthand (sops or age), or an ordered list of sources of any provider.
  secretType = { cfg, defaultDir, defaultDirText, extraOptions ? { } }:
    types.submodule ({ name, config, ... }: {
      options = fileOptions {
        defaultPath = "${defaultDir config}/${name}";
        defaultPathText = ''"''${${defaultDirText}}/${name}"'';
      } // {
        sops = mkOption {
          type = types.nullOr (types.submodule (sops: {
            options = {
              file = mkOption {
                type = types.nullOr types.path;
                default = cfg.defaultSopsFile;
                defaultText = literalExpression "config.materialize.defaultSopsFile";
                description = "The sops file. A path (`./secrets.yaml`) is copied into the store and checked at build time.";
              };
              key = mkOption {
                type = types.nullOr types.str;
                default = if sops.config.format == "binary" then null else name;
                defaultText = literalExpression ''<name>, or null when format is "binary"'';
                description = ''
                  The key in the file: `/` separates nested keys (`db/password`); `section/key` in INI
                  files; null or "" for the whole file (a binary file holds a single value).
                '';
              };
              format = mkOption {
                type = types.nullOr (types.enum sopsFormats);
                default = cfg.defaultSopsFormat;
                defaultText = literalExpression "config.materialize.defaultSopsFormat";
                description = "The file's format; null lets the program decide from the file name.";
              };
            };
          }));
          default = null;
          example = literalExpression ''{ file = ./secrets.yaml; key = "db/password"; }'';
          description = ''
            Read the secret from a sops file. With `materialize.defaultSopsFile` set, a secret that names
            no source at all is read from that file under its own name, as in sops-nix.
          '';
        };
        age = mkOption {
          type = types.nullOr (types.submodule {
            options.file = mkOption {
              type = types.path;
              description = "The .age file (binary or armored; the agenix format).";
            };
          });
          default = null;
          example = literalExpression "{ file = ./secrets/db.age; }";
          description = "Read the secret from an age file.";
        };
        onepassword = mkOption {
          type = types.nullOr (types.either types.str (types.submodule {
            options.reference = mkOption { type = types.str; description = "`op://<vault>/<item>/[<section>/]<field>`, with `?attribute=otp` or `?ssh-format=openssh` if needed."; };
            options.kind = mkOption { type = types.enum [ "field" "file" ]; default = "field"; description = "`file`: an attachment or a Document item, published as its exact bytes."; };
          }));
          default = null;
          example = literalExpression ''"op://Infra/postgres/password"'';
          description = ''
            Read the secret from 1Password (a service account; see `materialize.onepassword.tokenFile`):
            a reference, or `{ reference; kind = "file"; }` for a file. Also usable in `sources` as
            `{ onepassword = "op://…"; }`.
          '';
        };
        bitwarden = mkOption {
          type = types.nullOr (types.submodule {
            options = lib.mapAttrs (_: description: mkOption { type = types.nullOr types.str; default = null; inherit description; }) {
              secret = "Secrets Manager: the secret's id.";
              project = "Secrets Manager: the project's id (with `key`).";
              key = "Secrets Manager: the secret's key (its name) within `project`.";
              item = "Password Manager: the item's id or exact name.";
              field = "Password Manager: `password` (default), `username`, `notes`, `totp` or a custom field's name.";
              attachment = "Password Manager: an attachment's file name or id.";
            };
          });
          default = null;
          example = literalExpression ''{ item = "GitHub"; field = "API Key"; }'';
          description = ''
            Read the secret from Bitwarden: Secrets Manager (`secret`, or `project` and `key`) or a
            Password Manager vault through `bw` (`item`, with `field` or `attachment`); credentials
            and server in `materialize.bitwarden`.
          '';
        };
        sources = mkOption {
          type = types.listOf (types.attrsOf types.anything);
          default = [ ];
          example = literalExpression ''
            [
              { sops = { file = ./secrets.yaml; key = "api/token"; }; }
              { age.file = ./api-token.age; }
            ]
          '';
          description = ''
            Sources tried in order, the first that answers wins; each is a one-key set naming its
            provider. Passed to secrets.json as they are, so every provider the program knows can be
            used here. Use either this or one shorthand (`sops`, `age`, `onepassword`, `bitwarden`).
          '';
        };
        optional = mkOption {
          type = types.bool;
          default = false;
          description = "Whether the secret may be absent without failing the run.";
        };
      } // extraOptions;
    });

  templateType = { defaultDir, defaultDirText }:
    types.submodule ({ name, ... }: {
      options = fileOptions {
        defaultPath = "${defaultDir}/${name}";
        defaultPathText = ''"''${${defaultDirText}}/${name}"'';
      } // {
        content = mkOption {
          type = types.nullOr types.lines;
          default = null;
          example = literalExpression ''
            '''
              DATABASE_URL=postgres://app:''${config.materialize.placeholder."db/password"}@db/app
            '''
          '';
          description = ''
            The file's text; `{{ name }}` inserts the secret `name` (see `materialize.placeholder`),
            `\{{` is a literal `{{`. Set this or `file`.
          '';
        };
        file = mkOption {
          type = types.nullOr types.path;
          default = null;
          example = literalExpression "./app.conf.tmpl";
          description = "A file holding the template text, in the syntax of `content` (which it replaces).";
        };
      };
    });

  # The sources of one secret as they go into secrets.json.
  sourcesOf = cfg: name: secret:
    let
      sops = s: { inherit (s) file; }
        // lib.optionalAttrs (s.key != null) { inherit (s) key; }
        // lib.optionalAttrs (s.format != null) { inherit (s) format; };
    in
    if secret.sources != [ ] then secret.sources
    else if secret.sops != null then [ { sops = sops secret.sops; } ]
    else if secret.age != null then [ { age = { inherit (secret.age) file; }; } ]
    else if secret.onepassword != null then [ { onepassword = let o = secret.onepassword; in if builtins.isString o then o else { inherit (o) reference; } // lib.optionalAttrs (o.kind == "file") { kind = "file"; }; } ]
    else if secret.bitwarden != null then [ { bitwarden = lib.filterAttrs (_: v: v != null) secret.bitwarden; } ]
    else if cfg.defaultSopsFile != null then [ {
      sops = sops { file = cfg.defaultSopsFile; key = if cfg.defaultSopsFormat == "binary" then null else name; format = cfg.defaultSopsFormat; };
    } ]
    else [ ];

  # The fields shared by secrets and templates; defaults are left out so the file stays readable.
  fileEntry = { entry, defaultPath, toPath ? (p: p) }:
    lib.optionalAttrs (entry.owner != null) { inherit (entry) owner; }
    // lib.optionalAttrs (entry.group != null) { inherit (entry) group; }
    // { inherit (entry) mode; }
    // lib.optionalAttrs (entry.path != defaultPath) ({ path = toPath entry.path; } // lib.optionalAttrs (!entry.symlink) { symlink = false; })
    // lib.optionalAttrs (entry.restartUnits != [ ]) { inherit (entry) restartUnits; }
    // lib.optionalAttrs (entry.reloadUnits != [ ]) { inherit (entry) reloadUnits; };

  secretEntries = { cfg, secrets, dirOf, toPath ? (p: p) }:
    lib.mapAttrs (name: secret:
      { sources = sourcesOf cfg name secret; }
      // fileEntry { entry = secret; defaultPath = "${dirOf secret}/${name}"; inherit toPath; }
      // lib.optionalAttrs secret.optional { optional = true; }
    ) secrets;

  templateEntries = { templates, dir, toPath ? (p: p) }:
    lib.mapAttrs (name: template:
      (if template.file != null then { inherit (template) file; } else { content = if template.content == null then "" else template.content; })
      // fileEntry { entry = template; defaultPath = "${dir}/${name}"; inherit toPath; }
    ) templates;

  # The manifest in the store. With validateSecrets, the derivation runs `materialize check` on it
  # first, so a typo fails the build (`nixos-rebuild build`, `home-manager build`), not the boot; the
  # sops and age files it names are in its closure, hence readable in the build sandbox.
  manifestFile = { pkgs, cfg, name, value }:
    let plain = pkgs.writeText name (builtins.toJSON value); in
    if !cfg.validateSecrets then plain
    else pkgs.runCommand name { nativeBuildInputs = [ cfg.package ]; } ''
      materialize check --skip-owners --skip-keys --config ${plain}
      cp ${plain} $out
    '';

  # keys.* of secrets.json from the shared age/gnupg options.
  keysOf = cfg: {
    ageKeyFiles = lib.optional (cfg.age.keyFile != null) cfg.age.keyFile ++ cfg.age.keyFiles;
    sshKeyPaths = cfg.age.sshKeyPaths;
    gnupgHome = cfg.gnupg.home;
  } // lib.optionalAttrs (cfg.gnupg.sshKeyPaths != [ ]) { gnupgSshKeyPaths = cfg.gnupg.sshKeyPaths; };

  # Whether a manifest's keys need gpg on the PATH (a GnuPG home, SSH keys imported as PGP keys).
  usesGnupg = keys: (keys.gnupgHome or null) != null || (keys.gnupgSshKeyPaths or [ ]) != [ ];

  # A unit cannot read OP_SERVICE_ACCOUNT_TOKEN: 1Password sources need the token in a file.
  onePasswordAssertion = { cfg, secrets, option }: {
    assertion = !(lib.elem "onepassword" (providersUsed cfg secrets)) || (providersOf cfg secrets).onepassword.tokenFile or null != null;
    message = "${option}: 1Password sources are configured, but no service account token: set ${option}.onepassword.tokenFile to a file only root can read (e.g. \"/var/lib/materialize/op-token\", mode 0600).";
  };

  # Every provider the secrets use.
  providersUsed = cfg: secrets:
    lib.unique (lib.filter (p: p != null) (lib.concatLists (lib.mapAttrsToList (name: s: map providerOf (sourcesOf cfg name s)) secrets)));

  # `providers` of secrets.json: `materialize.providers` as written, with `providers.onepassword`
  # filled from `materialize.onepassword` (those options win) and `providers.bitwarden` from
  # `materialize.bitwarden` (settings written in `materialize.providers` win) and, when a vault
  # item is read, the path of `bw` from `materialize.bitwarden.package`.
  providersOf = cfg: secrets:
    let
      op = cfg.onepassword;
      onepassword = lib.optionalAttrs (op.tokenFile != null) { inherit (op) tokenFile; }
        // lib.optionalAttrs op.allowReadableTokenFile { allowReadableTokenFile = true; }
        // lib.optionalAttrs (op.callTimeout != null) { inherit (op) callTimeout; };
      b = cfg.bitwarden;
      sources = lib.concatLists (lib.mapAttrsToList (sourcesOf cfg) secrets);
      usesBitwarden = lib.any (s: s ? bitwarden) sources;
      usesVault = lib.any (s: s ? bitwarden && builtins.isAttrs s.bitwarden && s.bitwarden ? item) sources;
      fromOptions = lib.filterAttrs (_: v: v != null) {
        inherit (b) server accessTokenFile clientId clientSecretFile passwordFile appDataDir caFile timeout;
        bw = if usesVault then "${b.package}/bin/bw" else null;
      };
      bitwarden = lib.optionalAttrs usesBitwarden fromOptions // (cfg.providers.bitwarden or { });
    in
    lib.recursiveUpdate cfg.providers (lib.optionalAttrs (onepassword != { }) { inherit onepassword; })
    // lib.optionalAttrs (bitwarden != { }) { inherit bitwarden; };

  # Files named by sources ({ sops.file = …; }, { age.file = …; }, or any provider with a `file`).
  sourceFiles = cfg: name: secret:
    lib.concatMap (source:
      let inner = source.${providerOf source}; in
      lib.optional (providerOf source != null && builtins.isAttrs inner && inner ? file && inner.file != null) inner.file
    ) (sourcesOf cfg name secret);

  # Assertions both modules make about each secret: the impossible configurations, each named.
  secretAssertions = { cfg, secrets, option }:
    lib.concatLists (lib.mapAttrsToList (name: secret:
      let
        at = "${option}.secrets.${showName name}";
        shorthands = lib.filter (x: x != null) [
          (if secret.sops != null then "sops" else null)
          (if secret.age != null then "age" else null)
          (if secret.onepassword != null then "onepassword" else null)
          (if secret.bitwarden != null then "bitwarden" else null)
          (if secret.sources != [ ] then "sources" else null)
        ];
      in
      [
        {
          assertion = shorthands != [ ] || cfg.defaultSopsFile != null;
          message = "${at} has no source: set ${at}.sops (with ${option}.defaultSopsFile or sops.file), ${at}.age.file, ${at}.onepassword, or ${at}.sources.";
        }
        {
          assertion = builtins.length shorthands <= 1;
          message = "${at} sets ${lib.concatStringsSep " and " shorthands}: use exactly one (to try several sources in order, list them all in ${at}.sources).";
        }
        {
          assertion = secret.sops == null || secret.sops.file != null;
          message = "${at}.sops has no file: set ${at}.sops.file or ${option}.defaultSopsFile.";
        }
      ]
      ++ lib.optionals cfg.validateSecrets (map (file: {
        assertion = inStore file;
        message = "${at}: ${toString file} is not in the Nix store, so it cannot be checked at build time. Use a path (./secrets.yaml, copied into the store) instead of a string, or set ${option}.validateSecrets = false.";
      }) (sourceFiles cfg name secret))
    ) secrets);

  # A template has its text in exactly one place; a template file is read at build time like a source.
  templateAssertions = { cfg, templates, option }:
    lib.concatLists (lib.mapAttrsToList (name: t:
      let at = "${option}.templates.${showName name}"; in
      [ {
        assertion = (t.content == null) != (t.file == null);
        message = "${at} needs exactly one of content and file.";
      } ]
      ++ lib.optional (cfg.validateSecrets && t.file != null) {
        assertion = inStore t.file;
        message = "${at}: ${toString t.file} is not in the Nix store, so it cannot be checked at build time. Use a path (./app.conf.tmpl) instead of a string, or set ${option}.validateSecrets = false.";
      }
    ) templates);

  # Two entries cannot share a path (a custom path may not be another entry's file either).
  pathAssertions = { option, entries }:
    let
      byPath = lib.groupBy (e: e.path) entries;
      clashes = lib.filterAttrs (_: es: builtins.length es > 1) byPath;
    in
    lib.mapAttrsToList (path: es: {
      assertion = false;
      message = "${option}: ${lib.concatMapStringsSep " and " (e: e.what) es} share the path ${path}; each needs its own.";
    }) clashes;

  # Whether sops or age sources exist while no key of any kind is configured.
  keyAssertion = { cfg, secrets, option }:
    let
      usesKeys = lib.any (p: lib.elem p offlineProviders) (providersUsed cfg secrets);
      keys = keysOf cfg;
    in
    {
      assertion = !usesKeys || keys.ageKeyFiles != [ ] || keys.sshKeyPaths != [ ] || keys.gnupgHome != null || keys ? gnupgSshKeyPaths;
      message = "${option}: sops or age secrets are configured, but no key can open them: set ${option}.age.keyFile, ${option}.age.keyFiles, ${option}.age.sshKeyPaths or ${option}.gnupg.home.";
    };

  # A unit name as systemctl reads it: without a unit type suffix it is a service ("nginx" is
  # "nginx.service"), as the program does too.
  unitTypes = [ "service" "socket" "device" "mount" "automount" "swap" "target" "path" "timer" "slice" "scope" ];
  unitName = u: if lib.any (t: lib.hasSuffix ".${t}" u) unitTypes then u else "${u}.service";

  # `.service` units named in restartUnits/reloadUnits, by NixOS attribute name; template instances
  # (`foo@bar.service`) are left alone, since defining them would shadow their template.
  dependentServices = entries:
    let
      units = lib.unique (map unitName (lib.concatMap (e: e.restartUnits ++ e.reloadUnits) entries));
      services = lib.filter (u: lib.hasSuffix ".service" u && !(lib.hasInfix "@" u)) units;
    in
    map (lib.removeSuffix ".service") services;

  # Another secrets directory beside the main one (`materialize.instances.<id>`, internal): its own
  # generations, keys and unit (`materialize-secrets-<id>`), so that the agenix compatibility module
  # can publish under /run/agenix (generations in /run/agenix.d) next to sops-nix's /run/secrets.
  # The unit is part of materialize-secrets.target like the main one.
  instanceType = { cfg, defaultMount, extraOptions ? { } }:
    types.submodule ({ name, config, ... }: {
      options = {
        secretsDir = mkOption { type = types.str; description = "The symlink to this instance's live generation."; };
        mountPoint = mkOption { type = types.str; description = "Where this instance's generations live."; };
        mount = mkOption { type = types.enum [ "ramfs" "tmpfs" "none" ]; default = defaultMount; description = "As `materialize.mount`."; };
        keepGenerations = mkOption { type = types.ints.unsigned; default = cfg.keepGenerations; description = "As `materialize.keepGenerations`."; };
        validateSecrets = mkOption { type = types.bool; default = cfg.validateSecrets; description = "As `materialize.validateSecrets`."; };
        keys = mkOption {
          type = types.attrs;
          default = keysOf cfg;
          description = "`keys` of this instance's secrets.json (the main keys unless set).";
        };
        secrets = mkOption {
          type = types.attrsOf (secretType {
            inherit cfg;
            defaultDir = _: config.secretsDir;
            defaultDirText = "config.materialize.instances.${name}.secretsDir";
          });
          default = { };
          description = "Secrets published under this instance's `secretsDir`.";
        };
        templates = mkOption {
          type = types.attrsOf (templateType { defaultDir = config.secretsDir; defaultDirText = "config.materialize.instances.${name}.secretsDir"; });
          default = { };
          description = "Templates published under this instance's `secretsDir`; they can use its secrets only.";
        };
      } // extraOptions;
    });

  # The options both modules share at the top level; `service` names who applies the manifest.
  commonOptions = { pkgs, cfg, defaultSecretsDir, secretsDirDescription, service, manifestNote ? "", manifestFileNote ? "", defaultStateDir, defaultStateDirText }: {
    network = {
      stateDir = mkOption {
        type = types.nullOr absolutePathString;
        default = defaultStateDir;
        defaultText = literalExpression defaultStateDirText;
        description = ''
          Where network sources (1Password, Bitwarden) keep their state on persistent disk: the sealed
          store of last-known-good values (`sealed.age`) and the call budget (`budget.json`). Made
          0700, owned by the ${service}'s user; refused when anyone else could write to it.
        '';
      };
      seal.enable = mkOption {
        type = types.bool;
        default = true;
        description = ''
          Keep the values network sources answered in a sealed store: one age file in `stateDir`,
          encrypted to this machine's own keys (its SSH host key or age key, as a sops file encrypted
          to it). When a source is unreachable, times out, fails on the server or is rate-limited, the
          sealed value is published instead (reported `cached`, exit 75 or 69), and the boot run
          publishes sealed values at once, without waiting for the network. Never for a value the
          source says is gone or a token it refuses.
        '';
      };
      seal.maxAge = mkOption {
        type = types.str;
        default = "30d";
        example = "7d";
        description = "The oldest sealed value that may stand in for the network (`30d`, `12h`, `90min`, `1d 12h`), counted from when the network last gave it.";
      };
      callsPerHour = mkOption {
        type = types.ints.unsigned;
        default = 60;
        description = ''
          At most this many calls per hour to each network source's account and credential, kept
          across runs and reboots; after a rate limit, none until its window has passed. A unit stuck
          in a restart loop cannot exhaust a quota. 0: no budget.
        '';
      };
    };
    refresh = {
      interval = mkOption {
        type = types.nullOr types.str;
        default = unitSettings.refresh.interval;
        example = "6h";
        description = ''
          How often a timer re-applies the secrets from their network sources (a systemd time span):
          changed values are published, only their units restart, and the sealed store is updated.
          The first refresh is ${unitSettings.refresh.Timer.OnBootSec} after boot; each is delayed by up to
          `randomizedDelay`. null: no timer (only boots and switches apply). Only used when a secret
          comes from a network source.
        '';
      };
      randomizedDelay = mkOption {
        type = types.str;
        default = unitSettings.refresh.randomizedDelay;
        example = "6h";
        description = ''
          A random delay of up to this long before each refresh (`RandomizedDelaySec=`), so machines
          that boot together do not call the service together. For a fleet sharing one account, make
          it as long as the interval (README, "The fleet").
        '';
      };
    };
    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = literalExpression "pkgs.callPackage ./package.nix { } # materialize from this repository";
      description = "The materialize package.";
    };
    manifest = mkOption {
      type = types.attrs;
      readOnly = true;
      description = "The secrets.json the ${service} applies${manifestNote} (evaluate it without building anything).";
    };
    manifestFile = mkOption {
      type = types.package;
      readOnly = true;
      description = "The manifest in the Nix store (checked at build time when `validateSecrets`)${manifestFileNote}.";
    };
    defaultSopsFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = literalExpression "./secrets/secrets.yaml";
      description = "The sops file of every sops secret that names no file; a secret with no source at all is read from it under its own name.";
    };
    defaultSopsFormat = mkOption {
      type = types.nullOr (types.enum sopsFormats);
      default = null;
      description = "The format of sops files whose secrets name none; null lets the program decide from the file name.";
    };
    validateSecrets = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Run `materialize check --skip-owners --skip-keys` on the manifest when the system is built, so
        a typo (a missing key in a sops file, a bad mode, an unknown unit) fails the build, not the
        boot. Needs every sops and age file in the Nix store.
      '';
    };
    age = {
      keyFile = mkOption {
        type = types.nullOr absolutePathString;
        default = null;
        example = "/var/lib/sops-nix/key.txt";
        description = "An age identity file (`AGE-SECRET-KEY-1…` lines).";
      };
      keyFiles = mkOption {
        type = types.listOf absolutePathString;
        default = [ ];
        description = "More age identity files.";
      };
    };
    gnupg.home = mkOption {
      type = types.nullOr absolutePathString;
      default = null;
      example = "/root/.gnupg";
      description = "GnuPG home for PGP-encrypted sops files.";
    };
    onepassword = {
      tokenFile = mkOption {
        type = types.nullOr absolutePathString;
        default = null;
        example = "/var/lib/materialize/op-token";
        description = ''
          The 1Password service account token's file, readable by the service's user only (mode 0600;
          a file its group or others can read is refused). Needed when a secret comes from 1Password.
        '';
      };
      allowReadableTokenFile = mkOption {
        type = types.bool;
        default = false;
        description = "Accept a token file that its group or others can read (not recommended: anyone who can read it can read every secret the service account can).";
      };
      callTimeout = mkOption {
        type = types.nullOr types.ints.positive;
        default = null;
        description = "Seconds each call to 1Password may take (null: the program's default, 30).";
      };
    };
    gnupg.sshKeyPaths = mkOption {
      type = types.listOf absolutePathString;
      default = [ ];
      example = [ "/etc/ssh/ssh_host_rsa_key" ];
      description = "RSA SSH private keys imported as PGP keys for PGP-encrypted sops files (sops-nix's `gnupg.sshKeyPaths`).";
    };
    keepGenerations = mkOption {
      type = types.ints.unsigned;
      default = 1;
      description = "Generations kept, the live one included; 0 never prunes.";
    };
    failurePolicy = mkOption {
      type = types.enum [ "keep-previous" "abort" ];
      default = "keep-previous";
      description = ''
        When every source of a secret fails: carry its live value forward into the new generation
        (reported stale, the run still fails), or build no new generation at all.
      '';
    };
    secretsDir = mkOption {
      type = types.str;
      default = defaultSecretsDir;
      description = secretsDirDescription;
    };
    timeout = mkOption {
      type = types.ints.positive;
      default = 120;
      description = "Deadline in seconds for fetching all secrets (`--timeout`); the unit's start timeout follows from it.";
    };
    providers = mkOption {
      type = types.attrsOf (types.attrsOf types.anything);
      default = { };
      description = "Per-provider settings, passed to `providers` in secrets.json as they are.";
    };
    # Bitwarden's settings (`providers.bitwarden` in secrets.json). Files are strings, never path
    # literals: a token or password must not be copied into the world-readable store.
    bitwarden = let opt = type: description: mkOption { type = types.nullOr type; default = null; inherit description; }; in {
      server = opt types.str "The server: `https://vault.bitwarden.com` (the program's default), `https://vault.bitwarden.eu`, or a self-hosted or Vaultwarden base URL.";
      accessTokenFile = opt absolutePathString "Secrets Manager: a file (mode 0600 or 0400) holding a machine account's access token.";
      clientId = opt types.str "Password Manager: the personal API key's `client_id` (`user.<uuid>`; not secret).";
      clientSecretFile = opt absolutePathString "Password Manager: a file (0600) holding the API key's `client_secret`.";
      passwordFile = opt absolutePathString "Password Manager: a file (0600) holding the master password (`bw unlock`).";
      appDataDir = opt absolutePathString "Password Manager: `bw`'s data directory, private and kept between runs so that a run does not log in again. Null: `/var/lib/materialize/bitwarden` for root, `$XDG_STATE_HOME/materialize/bitwarden` for a user.";
      caFile = opt absolutePathString "CA certificates (PEM) to trust for a self-hosted server with a private CA.";
      timeout = opt types.ints.positive "Seconds each Bitwarden call (an HTTP request, one `bw` start) may take; the program's default is 30.";
      package = mkOption {
        type = types.package;
        default = pkgs.bitwarden-cli;
        defaultText = literalExpression "pkgs.bitwarden-cli";
        description = "The `bw` CLI, used when a secret reads a Password Manager vault item.";
      };
    };
    templates = mkOption {
      type = types.attrsOf (templateType { defaultDir = cfg.secretsDir; defaultDirText = "config.materialize.secretsDir"; });
      default = { };
      description = "Files rendered from secrets, in the same directory and namespace as the secrets.";
    };
    placeholder = mkOption {
      type = types.attrsOf types.str;
      readOnly = true;
      description = "`materialize.placeholder.<secret>` is the text a template uses to insert that secret.";
    };
  };
}
