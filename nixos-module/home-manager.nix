# The home-manager module: a user service that materializes secrets into the user's runtime
# directory ($XDG_RUNTIME_DIR, `%t` in unit files), with `mount: none` and no root.
#
# secrets.json holds static paths, but the runtime directory (/run/user/<uid>) is only known when
# the unit runs. So the manifest names it relatively: `%t/...` options become `../...` in the JSON,
# and the unit copies the manifest to `%t/materialize/secrets.json` before applying it; the
# program resolves relative paths against the directory of the secrets.json it is given.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkIf mkDefault types literalExpression;
  cfg = config.materialize;
  mlib = import ./lib.nix { inherit lib; };
  units = lib.importJSON ./units.json;
  option = "materialize";
  unit = "materialize-secrets";

  # Where the unit puts the manifest: everything `%t/...` is relative to its directory.
  runtimeConfig = "%t/materialize/secrets.json";
  relative = p: if lib.hasPrefix "%t/" p then "../${lib.removePrefix "%t/" p}" else p;
  validPath = p: lib.hasPrefix "/" p || lib.hasPrefix "%t/" p;

  manifest = {
    version = 1;
    secretsDir = relative cfg.secretsDir;
    mountPoint = relative cfg.mountPoint;
    mount = "none";
    inherit (cfg) keepGenerations failurePolicy;
    keys = mlib.keysOf cfg;
    secrets = mlib.secretEntries { inherit cfg; inherit (cfg) secrets; dirOf = _: cfg.secretsDir; toPath = relative; };
  } // lib.optionalAttrs (cfg.providers != { }) { inherit (cfg) providers; }
  // lib.optionalAttrs (cfg.templates != { }) {
    templates = mlib.templateEntries { inherit (cfg) templates; dir = cfg.secretsDir; toPath = relative; };
  };

  manifestFile = mlib.manifestFile { inherit pkgs cfg; name = "materialize-secrets.json"; value = manifest; };

  hasEntries = cfg.secrets != { } || cfg.templates != { };
  entriesOf = suffix: secrets: templates:
    lib.mapAttrsToList (name: s: s // { inherit name; what = "secret ${mlib.showName name}${suffix}"; }) secrets
    ++ lib.mapAttrsToList (name: t: t // { inherit name; what = "template ${mlib.showName name}${suffix}"; }) templates;
  entries = entriesOf "" cfg.secrets cfg.templates;

  # Other secrets directories (the compatibility modules' ~/.config/sops-nix/secrets and
  # %t/agenix), each with its own manifest and user unit, `materialize-secrets-<id>`.
  instances = cfg.instances;
  hasInstances = instances != { };
  instanceUnit = id: "${unit}-${id}";
  instanceManifest = inst: {
    version = 1;
    secretsDir = relative inst.secretsDir;
    mountPoint = relative inst.mountPoint;
    mount = "none";
    inherit (inst) keepGenerations keys;
    inherit (cfg) failurePolicy;
    secrets = mlib.secretEntries { inherit cfg; inherit (inst) secrets; dirOf = _: inst.secretsDir; toPath = relative; };
  } // lib.optionalAttrs (cfg.providers != { }) { inherit (cfg) providers; }
  // lib.optionalAttrs (inst.templates != { }) {
    templates = mlib.templateEntries { inherit (inst) templates; dir = inst.secretsDir; toPath = relative; };
  };
  instanceFiles = lib.mapAttrs (id: inst: mlib.manifestFile {
    inherit pkgs;
    cfg = cfg // { inherit (inst) validateSecrets; };
    name = "${instanceUnit id}.json";
    value = instanceManifest inst;
  }) instances;
  instanceEntries = id: inst: entriesOf " of instance ${id}" inst.secrets inst.templates;
  allEntries = lib.optionals hasEntries entries ++ lib.concatLists (lib.mapAttrsToList instanceEntries instances);

  # The user unit that applies one manifest: copied into the runtime directory first, so that its
  # relative paths land there.
  secretsService = { dir, file, runtimeFile, keys }: {
    # Wants= and Before= the target, type and retries: units.json, shared with the NixOS module.
    Unit = units.service.Unit // {
      Description = "Materialize secrets into ${dir}";
      X-Restart-Triggers = [ "${file}" ];
    };
    Service = removeAttrs units.service.Service [ "RestartSec" ] // {
      ExecStartPre = "${pkgs.coreutils}/bin/install -D -m 0644 ${file} ${runtimeFile}";
      ExecStart = "${cfg.package}/bin/materialize apply --config ${runtimeFile} --units yes --units-scope user --timeout ${toString cfg.timeout}";
      # systemctl: the service restarts user units itself (--units yes --units-scope user).
      Environment = [ "PATH=${lib.makeBinPath ([ pkgs.getent pkgs.systemd ] ++ lib.optional (mlib.usesGnupg keys) pkgs.gnupg)}" ];
      RestartSec = mkDefault units.service.Service.RestartSec;
      TimeoutStartSec = mkDefault "${toString (cfg.timeout + 90)}s";
    };
    Install.WantedBy = [ "default.target" ];
  };
in
{
  # One key however the module is imported (the flake's directory, default.nix, a compatibility
  # module that imports it): the module system loads it once instead of declaring its options twice.
  key = "materialize/home-manager-module";

  # recursiveUpdate: the module adds options inside the shared groups (age.sshKeyPaths).
  options.materialize = lib.recursiveUpdate (mlib.commonOptions {
    inherit pkgs cfg;
    service = "user service";
    manifestNote = "; relative paths in it are under the runtime directory";
    defaultSecretsDir = "%t/secrets";
    secretsDirDescription = ''
      The symlink to the live generation; secrets are at `<secretsDir>/<name>`. `%t` is the user's
      runtime directory ($XDG_RUNTIME_DIR), as in systemd unit files; an absolute path works too.
    '';
  }) {
    secrets = mkOption {
      type = types.attrsOf (mlib.secretType {
        inherit cfg;
        defaultDir = _: cfg.secretsDir;
        defaultDirText = "config.materialize.secretsDir";
      });
      default = { };
      description = ''
        Secrets to materialize, by name. `path` defaults to `%t/secrets/<name>`, usable as is in unit
        files (`EnvironmentFile=`, `LoadCredential=`); in scripts the file is
        `$XDG_RUNTIME_DIR/secrets/<name>`. Set `path` to an absolute path for a link at a fixed place.
      '';
    };

    age.sshKeyPaths = mkOption {
      type = types.listOf mlib.absolutePathString;
      default = [ ];
      example = literalExpression ''[ "''${config.home.homeDirectory}/.ssh/id_ed25519" ]'';
      description = "OpenSSH private keys used as age identities.";
    };

    instances = mkOption {
      type = types.attrsOf (mlib.instanceType { inherit cfg; defaultMount = "none"; });
      default = { };
      internal = true;
      description = "Other secrets directories, each with its own generations and user unit (used by the compatibility modules).";
    };

    instanceManifests = mkOption {
      type = types.attrsOf types.attrs;
      readOnly = true;
      internal = true;
      description = "The secrets.json of each instance; relative paths in it are under the runtime directory.";
    };

    mountPoint = mkOption {
      type = types.str;
      default = "%t/secrets.d";
      description = "Where the numbered generations live (a plain directory; the runtime directory is a tmpfs).";
    };
  };

  config = lib.mkMerge [
    {
      materialize.manifest = manifest;
      materialize.manifestFile = manifestFile;
      materialize.instanceManifests = lib.mapAttrs (_: instanceManifest) instances;
      materialize.placeholder = lib.mapAttrs (name: _: "{{${name}}}") cfg.secrets;
    }

    (mkIf (hasEntries || hasInstances) {
      assertions =
        mlib.secretAssertions { inherit cfg option; inherit (cfg) secrets; }
        ++ mlib.templateAssertions { inherit cfg option; inherit (cfg) templates; }
        ++ lib.optional hasEntries (mlib.keyAssertion { inherit cfg option; inherit (cfg) secrets; })
        ++ lib.concatLists (lib.mapAttrsToList (id: inst:
          let icfg = cfg // { inherit (inst) validateSecrets; }; at = "${option}.instances.${id}"; in
          mlib.secretAssertions { cfg = icfg; option = at; inherit (inst) secrets; }
          ++ mlib.templateAssertions { cfg = icfg; option = at; inherit (inst) templates; }
          ++ map (p: {
            assertion = validPath p.value;
            message = "${at}: ${p.what} is ${builtins.toJSON p.value}; expected an absolute path or one under the runtime directory (\"%t/...\").";
          }) [ { what = "secretsDir"; value = inst.secretsDir; } { what = "mountPoint"; value = inst.mountPoint; } ]
        ) instances)
        ++ mlib.pathAssertions { inherit option; entries = allEntries; }
        # Each directory holds one manifest's generations.
        ++ (let
          dirs = lib.optionals hasEntries [
            { what = "${option}.secretsDir"; value = cfg.secretsDir; }
            { what = "${option}.mountPoint"; value = cfg.mountPoint; }
          ] ++ lib.concatLists (lib.mapAttrsToList (id: inst: [
            { what = "${option}.instances.${id}.secretsDir"; value = inst.secretsDir; }
            { what = "${option}.instances.${id}.mountPoint"; value = inst.mountPoint; }
          ]) instances);
        in lib.mapAttrsToList (dir: ds: {
          assertion = builtins.length ds == 1;
          message = "${lib.concatMapStringsSep " and " (d: d.what) ds} are all ${dir}; each needs its own directory.";
        }) (lib.groupBy (d: d.value) dirs))
        ++ map (p: {
          assertion = validPath p.value;
          message = "${option}: ${p.what} is ${builtins.toJSON p.value}; expected an absolute path or one under the runtime directory (\"%t/...\").";
        }) (lib.optionals hasEntries [ { what = "secretsDir"; value = cfg.secretsDir; } { what = "mountPoint"; value = cfg.mountPoint; } ]
          ++ map (e: { what = "the path of ${e.what}"; value = e.path; }) allEntries);

      home.packages = [ cfg.package ];

      systemd.user.services = lib.genAttrs (lib.filter (u: u != unit && !(lib.hasPrefix "${unit}-" u)) (mlib.dependentServices allEntries)) (_: {
        Unit.After = [ "${unit}.target" ];
        Unit.Wants = [ "${unit}.target" ];
      })
      // lib.optionalAttrs hasEntries {
        ${unit} = secretsService { dir = cfg.secretsDir; file = manifestFile; runtimeFile = runtimeConfig; keys = mlib.keysOf cfg; };
      }
      // lib.mapAttrs' (id: inst: lib.nameValuePair (instanceUnit id) (secretsService {
        dir = inst.secretsDir;
        file = instanceFiles.${id};
        runtimeFile = "%t/materialize/secrets-${id}.json";
        inherit (inst) keys;
      })) instances;

      systemd.user.targets.${unit} = let appliers = map (id: "${instanceUnit id}.service") (lib.attrNames instances); in {
        # Requisite=, not Requires=: starting a consumer never re-runs a failed service.
        Unit = units.target.Unit // {
          Description = "Secrets from materialize are ready";
          Requisite = lib.optionals hasEntries units.target.Unit.Requisite ++ appliers;
          After = lib.optionals hasEntries units.target.Unit.After ++ appliers;
        };
        Install.WantedBy = [ "default.target" ];
      };
    })
  ];
}
