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
  } // (let p = mlib.providersOf cfg cfg.secrets; in lib.optionalAttrs (p != { }) { providers = p; })
  // lib.optionalAttrs (cfg.templates != { }) {
    templates = mlib.templateEntries { inherit (cfg) templates; dir = cfg.secretsDir; toPath = relative; };
  };

  manifestFile = mlib.manifestFile { inherit pkgs cfg; name = "materialize-secrets.json"; value = manifest; };

  hasEntries = cfg.secrets != { } || cfg.templates != { };
  entries =
    lib.mapAttrsToList (name: s: s // { inherit name; what = "secret ${mlib.showName name}"; }) cfg.secrets
    ++ lib.mapAttrsToList (name: t: t // { inherit name; what = "template ${mlib.showName name}"; }) cfg.templates;
in
{
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
      materialize.placeholder = lib.mapAttrs (name: _: "{{${name}}}") cfg.secrets;
    }

    (mkIf hasEntries {
      assertions =
        mlib.secretAssertions { inherit cfg option; inherit (cfg) secrets; }
        ++ [ (mlib.keyAssertion { inherit cfg option; inherit (cfg) secrets; }) ]
        ++ mlib.pathAssertions { inherit option; entries = entries; }
        ++ map (p: {
          assertion = validPath p.value;
          message = "${option}: ${p.what} is ${builtins.toJSON p.value}; expected an absolute path or one under the runtime directory (\"%t/...\").";
        }) ([ { what = "secretsDir"; value = cfg.secretsDir; } { what = "mountPoint"; value = cfg.mountPoint; } ]
          ++ map (e: { what = "the path of ${e.what}"; value = e.path; }) entries);


      home.packages = [ cfg.package ];

      systemd.user.services = lib.genAttrs (lib.filter (u: u != unit) (mlib.dependentServices entries)) (_: {
        Unit.After = [ "${unit}.target" ];
        Unit.Wants = [ "${unit}.target" ];
      }) // {
        ${unit} = {
          # Wants= and Before= the target, type and retries: units.json, shared with the NixOS module.
          Unit = units.service.Unit // {
            Description = "Materialize secrets into ${cfg.secretsDir}";
            X-Restart-Triggers = [ "${manifestFile}" ];
          };
          Service = removeAttrs units.service.Service [ "RestartSec" ] // {
            ExecStartPre = "${pkgs.coreutils}/bin/install -D -m 0644 ${manifestFile} ${runtimeConfig}";
            ExecStart = "${cfg.package}/bin/materialize apply --config ${runtimeConfig} --units yes --units-scope user --timeout ${toString cfg.timeout}";
            # systemctl: the service restarts user units itself (--units yes --units-scope user).
            Environment = [ "PATH=${lib.makeBinPath ([ pkgs.getent pkgs.systemd ] ++ lib.optional (cfg.gnupg.home != null) pkgs.gnupg)}" ];
            RestartSec = mkDefault units.service.Service.RestartSec;
            TimeoutStartSec = mkDefault "${toString (cfg.timeout + 90)}s";
          };
          Install.WantedBy = [ "default.target" ];
        };
      };

      systemd.user.targets.${unit} = {
        # Requisite=, not Requires=: starting a consumer never re-runs a failed service.
        Unit = units.target.Unit // { Description = "Secrets from materialize are ready"; };
        Install.WantedBy = [ "default.target" ];
      };
    })
  ];
}
