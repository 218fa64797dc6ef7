# OpNix compatibility: accepts OpNix's `services.onepassword-secrets` options and maps them onto
# materialize, so an OpNix user switches by replacing one import
# (`inputs.opnix.nixosModules.default` → `inputs.materialize.nixosModules.opnix-compat`). Same
# paths (each a link to the live generation in /run/secrets instead of a plaintext file on disk),
# same owners and modes, same restarts. The mapping of a JSON entry is the one
# `materialize import opnix` makes (src/config/opnix.ts); the README's migration table says where
# materialize behaves differently.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkEnableOption mkIf mkDefault types literalExpression;
  cfg = config.services.onepassword-secrets;
  mcfg = config.materialize;
  opnixGroup = "onepassword-secrets";
  integration = cfg.systemdIntegration;
  restarts = integration.enable && integration.restartOnChange;

  unitTypes = "service|socket|target|timer|path|mount|automount|swap|device|scope|slice";
  unitOf = s: if builtins.match ".*\\.(${unitTypes})" s != null then s else "${s}.service";

  # `{name}` placeholders from the secret's variables over the defaults, as OpNix substitutes them.
  expand = vars: template: lib.concatMapStrings
    (x: if builtins.isList x then vars.${builtins.head x} or (throw "services.onepassword-secrets: the path ${template} uses {${builtins.head x}}, which neither the secret's variables nor the defaults define") else x)
    (builtins.split "[{]([^{}]*)[}]" template);

  # A services list restarts; `{ name = { restart; signal; }; }` restarts, or reloads for a signal.
  servicesOf = services:
    if builtins.isList services then { restart = map unitOf services; reload = [ ]; }
    else {
      restart = map unitOf (builtins.attrNames (lib.filterAttrs (_: o: (o.restart or true) && (o.signal or null) == null) services));
      reload = map unitOf (builtins.attrNames (lib.filterAttrs (_: o: (o.signal or null) != null) services));
    };

  # Where OpNix wrote the file: an absolute path, or one under outputDir.
  fileOf = path: if lib.hasPrefix "/" path then path else "${cfg.outputDir}/${path}";
  inSecretsDir = file: lib.hasPrefix "${mcfg.secretsDir}/" file;

  # One OpNix entry (as OpNix's module writes it to JSON) → materialize secrets: the file, named
  # `name`, linked where OpNix wrote it, plus one secret per extra symlink (fetched once).
  convert = name: e:
    let
      file = fileOf e.path;
      services = servicesOf (e.services or [ ]);
      secretName = if inSecretsDir file then lib.removePrefix "${mcfg.secretsDir}/" file else name;
      owner = e.owner or (if e ? group then "root" else null);
      group = e.group or (if e ? owner then "root" else null);
      base = {
        onepassword = if (e.kind or "field") == "file" then { reference = e.reference; kind = "file"; } else e.reference;
        mode = e.mode or "0600";
        restartUnits = lib.optionals restarts services.restart;
        reloadUnits = lib.optionals restarts services.reload;
      } // lib.optionalAttrs (owner != null) { inherit owner; } // lib.optionalAttrs (group != null) { inherit group; };
    in
    [ (lib.nameValuePair secretName (base // lib.optionalAttrs (!inSecretsDir file) { path = file; })) ]
    ++ lib.imap1 (i: link: lib.nameValuePair "${secretName}.link${toString i}" (base // { path = link; })) (e.symlinks or [ ]);

  # Declarative secrets, as OpNix's module turns them into JSON (path: the given one, else the name).
  declarative = lib.mapAttrsToList (name: s: {
    inherit name;
    entry = {
      path = expand (cfg.defaults // s.variables) (if s.path != null then s.path else name);
      inherit (s) reference kind owner group mode symlinks services;
    };
  }) cfg.secrets;

  # Entries of configFiles (both OpNix JSON formats), named as `materialize import opnix` names them.
  fromFile = file:
    let
      json = lib.importJSON file;
      defaults = json.defaults or { };
      entry = e:
        if e ? opItem then
          let owner = lib.splitString ":" (e.owner or ""); in
          { path = e.target or e.name; reference = "op://${e.opItem}/${e.opField}"; old = e.name or null; }
          // lib.optionalAttrs (e ? mode) { inherit (e) mode; }
          // lib.optionalAttrs (builtins.head owner != "") { owner = builtins.head owner; }
          // lib.optionalAttrs (builtins.length owner > 1 && builtins.elemAt owner 1 != "") { group = builtins.elemAt owner 1; }
        else
          removeAttrs e [ "variables" "path" ] // {
            path = expand (defaults // e.variables or { }) (e.path or json.pathTemplate or (throw "services.onepassword-secrets: ${toString file}: a secret has no path and the file no pathTemplate"));
          };
    in
    map entry json.secrets;
  fileEntries = lib.concatMap fromFile (cfg.configFiles ++ lib.optional (cfg.configFile != null) cfg.configFile);
  baseName = e: let file = fileOf e.path; in
    if inSecretsDir file then lib.removePrefix "${mcfg.secretsDir}/" file
    else if lib.hasPrefix "${cfg.outputDir}/" file then lib.removePrefix "${cfg.outputDir}/" file
    else if e.old or null != null then e.old
    else baseNameOf file;
  fileNames = map baseName fileEntries;
  nameOf = i: e: let n = builtins.elemAt fileNames i; in
    if lib.count (x: x == n) fileNames > 1 then lib.removePrefix "/" (fileOf e.path) else n;

  converted = lib.concatMap (d: convert d.name d.entry) declarative
    ++ lib.concatLists (lib.imap0 (i: e: convert (nameOf i e) (removeAttrs e [ "old" ])) fileEntries);
  secrets = builtins.listToAttrs converted;
  links = lib.unique (lib.concatMap (x: lib.optional (x.value ? path) x.value.path) converted);
  tokenFile = toString cfg.tokenFile;

  # OpNix left plaintext files where the links go, and (without `users`) a token file its group
  # could read: move the files aside (materialize never replaces a file it did not write), make the
  # token 0600 again. Run before every start; a no-op once done.
  migrate = pkgs.writeShellScript "materialize-opnix-migrate" ''
    for p in ${lib.escapeShellArgs links}; do
      if [ -f "$p" ] && [ ! -L "$p" ]; then
        ${pkgs.coreutils}/bin/mv -f -- "$p" "$p.opnix-old" &&
          echo "materialize: moved OpNix's file $p aside to $p.opnix-old (plaintext on disk: delete it)" >&2
      fi
    done
    ${lib.optionalString (cfg.users == [ ]) ''
      t=${lib.escapeShellArg tokenFile}
      if [ -f "$t" ] && [ ! -L "$t" ] && [ "$(${pkgs.coreutils}/bin/stat -c %G -- "$t")" = ${opnixGroup} ]; then
        ${pkgs.coreutils}/bin/chown root:root -- "$t" && ${pkgs.coreutils}/bin/chmod 0600 -- "$t" &&
          echo "materialize: $t was readable by group ${opnixGroup} (set by OpNix) and no user is in it: now root:root 0600" >&2
      fi
    ''}
    exit 0
  '';

  serviceOptions = types.submodule {
    options = {
      restart = mkOption { type = types.bool; default = true; description = "Restart the service when the secret changes."; };
      signal = mkOption { type = types.nullOr types.str; default = null; description = "OpNix sent this signal; materialize reloads the unit (`try-reload-or-restart`)."; };
      after = mkOption { type = types.listOf types.str; default = [ "opnix-secrets.service" ]; description = "Ignored: a restarted service is ordered after `materialize-secrets.target` automatically."; };
    };
  };
in
{
  # The materialize module itself (a second import of it, e.g. nixosModules.default, is the same module).
  imports = [ ./. ];

  options.services.onepassword-secrets = {
    enable = mkEnableOption "1Password secrets through materialize (OpNix-compatible options)";
    tokenFile = mkOption {
      type = types.either types.str types.path;
      default = "/etc/opnix-token";
      description = "The service account token's file (becomes `materialize.onepassword.tokenFile`). A string: a path literal would copy the token into the Nix store.";
    };
    configFiles = mkOption { type = types.listOf types.path; default = [ ]; description = "OpNix JSON files (either format), read at evaluation time."; };
    configFile = mkOption { type = types.nullOr types.path; default = null; description = "OpNix V0's single JSON file."; };
    outputDir = mkOption { type = types.str; default = "/var/lib/opnix/secrets"; description = "Where OpNix wrote relative paths; each becomes a link to the secret in `materialize.secretsDir`."; };
    users = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "Users OpNix let read the token file (group onepassword-secrets). Kept, with `materialize.onepassword.allowReadableTokenFile`; drop it if nobody needs the token.";
    };
    secrets = mkOption {
      type = types.attrsOf (types.submodule {
        options = {
          reference = mkOption { type = types.str; description = "`op://Vault/Item/[section/]field`"; };
          kind = mkOption { type = types.enum [ "field" "file" ]; default = "field"; description = "`file`: an attachment or Document item, as bytes."; };
          path = mkOption { type = types.nullOr types.str; default = null; description = "Where the secret appears (a link); relative paths are under `outputDir`; null: `outputDir/<name>`."; };
          symlinks = mkOption { type = types.listOf types.str; default = [ ]; description = "More places it appears (each a secret `<name>.linkN` from the same source, fetched once)."; };
          variables = mkOption { type = types.attrsOf types.str; default = { }; description = "Values for `{variable}` in `path`."; };
          owner = mkOption { type = types.str; default = "root"; description = "File owner."; };
          group = mkOption { type = types.str; default = "root"; description = "File group."; };
          mode = mkOption { type = types.str; default = "0600"; description = "File mode."; };
          services = mkOption { type = types.either (types.listOf types.str) (types.attrsOf serviceOptions); default = [ ]; description = "Services restarted (or reloaded, with `signal`) when the secret changes."; };
        };
      });
      default = { };
      description = "OpNix's declarative secrets, by name.";
    };
    pathTemplate = mkOption { type = types.nullOr types.str; default = null; description = "Used for JSON entries without a path (OpNix's module gives declarative secrets a path always)."; };
    defaults = mkOption { type = types.attrsOf types.str; default = { }; description = "Default `{variable}` values."; };
    systemdIntegration = {
      enable = mkOption { type = types.bool; default = true; description = "Order and restart the secrets' services."; };
      services = mkOption { type = types.listOf types.str; default = [ ]; description = "Services ordered after `materialize-secrets.target`."; };
      restartOnChange = mkOption { type = types.bool; default = true; description = "Restart services when their secrets change."; };
      changeDetection = {
        enable = mkOption { type = types.bool; default = true; description = "Accepted; materialize always compares with the live generation."; };
        hashFile = mkOption { type = types.str; default = "/var/lib/opnix/secret-hashes.json"; description = "Ignored (materialize keeps no hash file)."; };
      };
      polling = {
        enable = mkOption { type = types.bool; default = false; description = "Re-fetch periodically: sets `materialize.refresh.interval` (each refresh is one sign-in and one resolveAll). Off: materialize's own refresh interval applies."; };
        interval = mkOption { type = types.str; default = "6h"; description = "systemd time span between polls (`materialize.refresh.interval`)."; };
      };
      errorHandling = {
        rollbackOnFailure = mkOption { type = types.bool; default = false; description = "Ignored: a failed secret keeps its live value (failurePolicy keep-previous)."; };
        continueOnError = mkOption { type = types.bool; default = true; description = "false: `materialize.failurePolicy = \"abort\"`."; };
        maxRetries = mkOption { type = types.int; default = 3; description = "Attempts per call for network failures (1 to 5)."; };
      };
    };
    secretPaths = mkOption {
      type = types.attrsOf types.str;
      default = { };
      description = "Where each declarative secret appears, by name (as in OpNix).";
    };
  };

  config = mkIf cfg.enable (lib.mkMerge [
    {
      assertions = [
        {
          assertion = !builtins.isPath cfg.tokenFile;
          message = "services.onepassword-secrets.tokenFile is a Nix path literal, which would copy the token into the world-readable Nix store; give it as a string (\"/etc/opnix-token\").";
        }
        {
          assertion = cfg.secrets != { } || cfg.configFiles != [ ] || cfg.configFile != null;
          message = "services.onepassword-secrets: set secrets, configFiles or configFile.";
        }
      ];
      materialize.secrets = secrets;
      materialize.onepassword.tokenFile = tokenFile;
      materialize.onepassword.allowReadableTokenFile = mkDefault (cfg.users != [ ]);
      materialize.failurePolicy = mkIf (!integration.errorHandling.continueOnError) (mkDefault "abort");
      materialize.providers = mkIf (integration.errorHandling.maxRetries != 3) {
        onepassword.attempts = lib.min 5 (lib.max 1 integration.errorHandling.maxRetries);
      };
      # Where OpNix put each file is where it appears now (a link, or the file itself in secretsDir).
      services.onepassword-secrets.secretPaths = builtins.listToAttrs (map (d: lib.nameValuePair d.name (fileOf d.entry.path)) declarative);
    }
    (mkIf (secrets != { }) {
      systemd.services.materialize-secrets.serviceConfig.ExecStartPre = [ "${migrate}" ];
    })
    (mkIf (cfg.users != [ ]) {
      users.groups.${opnixGroup} = { };
      users.users = lib.genAttrs cfg.users (_: { extraGroups = [ opnixGroup ]; });
    })
    (mkIf (integration.enable && integration.services != [ ]) {
      systemd.services = lib.genAttrs integration.services (_: {
        after = [ "materialize-secrets.target" ];
        wants = [ "materialize-secrets.target" ];
      });
    })
    # OpNix's polling is materialize's refresh timer: network first, only changed secrets restart
    # their units, the sealed store is updated (without polling, materialize's default interval).
    (mkIf integration.polling.enable {
      materialize.refresh.interval = mkDefault integration.polling.interval;
    })
  ]);
}
