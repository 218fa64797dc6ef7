# The NixOS module: `materialize.*` options in, secrets.json out, and the units that apply it.
# All validation and all the work happen in the program (`materialize check` at build time,
# `materialize apply` at boot and on every switch that changes the manifest); see docs/nixos.md.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkIf mkMerge mkDefault types literalExpression;
  cfg = config.materialize;
  mlib = import ./lib.nix { inherit lib; };
  units = lib.importJSON ./units.json;
  option = "materialize";

  unit = "materialize-secrets";
  forUsersUnit = "materialize-secrets-for-users";
  mountPointForUsers = "${cfg.secretsForUsersDir}.d";

  regularSecrets = lib.filterAttrs (_: s: !s.neededForUsers) cfg.secrets;
  secretsForUsers = lib.filterAttrs (_: s: s.neededForUsers) cfg.secrets;
  hasRegular = regularSecrets != { } || cfg.templates != { };
  hasForUsers = secretsForUsers != { };

  # systemd-sysusers and userborn create users in a unit, not in the activation script.
  sysusers = config.systemd.sysusers.enable or false;
  userborn = config.services.userborn.enable or false;
  usersUnits = lib.optional sysusers "systemd-sysusers.service" ++ lib.optional userborn "userborn.service";

  common = {
    version = 1;
    inherit (cfg) keepGenerations failurePolicy mount;
    keys = mlib.keysOf cfg;
  };
  providersFor = secrets: let p = mlib.providersOf cfg secrets; in lib.optionalAttrs (p != { }) { providers = p; };

  # Only a manifest whose secrets read a network source carries `network`.
  networkFor = secrets: lib.optionalAttrs (mlib.usesNetworkSources cfg secrets) { network = mlib.networkOf cfg; };

  manifest = common // providersFor regularSecrets // networkFor regularSecrets // {
    inherit (cfg) secretsDir mountPoint;
    secrets = mlib.secretEntries { inherit cfg; secrets = regularSecrets; dirOf = _: cfg.secretsDir; };
  } // lib.optionalAttrs (cfg.templates != { }) {
    templates = mlib.templateEntries { inherit (cfg) templates; dir = cfg.secretsDir; };
  };

  # Hashed passwords and the like: root-owned, published before users are created, no templates,
  # no units (nothing runs yet when they are applied at boot).
  manifestForUsers = common // providersFor secretsForUsers // networkFor secretsForUsers // {
    secretsDir = cfg.secretsForUsersDir;
    mountPoint = mountPointForUsers;
    secrets = lib.mapAttrs (_: s: removeAttrs s [ "restartUnits" "reloadUnits" ])
      (mlib.secretEntries { inherit cfg; secrets = secretsForUsers; dirOf = _: cfg.secretsForUsersDir; });
  };

  regularFile = mlib.manifestFile { inherit pkgs cfg; name = "materialize-secrets.json"; value = manifest; };
  forUsersFile = mlib.manifestFile { inherit pkgs cfg; name = "materialize-secrets-for-users.json"; value = manifestForUsers; };

  # Other secrets directories (the agenix compatibility module's /run/agenix), each with its own
  # manifest and unit, `materialize-secrets-<id>`, part of materialize-secrets.target.
  instances = cfg.instances;
  hasInstances = instances != { };
  instanceUnit = id: "${unit}-${id}";
  instanceManifest = inst: {
    version = 1;
    inherit (inst) secretsDir mountPoint mount keepGenerations keys;
    inherit (cfg) failurePolicy;
    secrets = mlib.secretEntries { inherit cfg; inherit (inst) secrets; dirOf = _: inst.secretsDir; };
  } // lib.optionalAttrs (cfg.providers != { }) { inherit (cfg) providers; }
  // lib.optionalAttrs (inst.templates != { }) { templates = mlib.templateEntries { inherit (inst) templates; dir = inst.secretsDir; }; };
  instanceFiles = lib.mapAttrs (id: inst: mlib.manifestFile {
    inherit pkgs;
    cfg = cfg // { inherit (inst) validateSecrets; };
    name = "${instanceUnit id}.json";
    value = instanceManifest inst;
  }) instances;
  instanceEntries = inst: entriesOf inst.secretsDir inst.secrets ++ entriesOf inst.secretsDir inst.templates;
  beforeUsersInstances = lib.filterAttrs (_: i: i.beforeUsers) instances;

  providers = lib.unique (lib.concatMap (secrets: mlib.providersUsed cfg secrets) ([ cfg.secrets ] ++ lib.mapAttrsToList (_: i: i.secrets) instances));
  needsNetwork = lib.any (p: !(lib.elem p mlib.offlineProviders)) providers;

  # With sealed values the boot run does not wait for the network: it publishes what the seal holds
  # (`apply --boot`), and the refresh unit asks the network once it is up.
  usesNetworkSources = mlib.usesNetworkSources cfg regularSecrets;
  sealedBoot = usesNetworkSources && cfg.network.seal.enable;
  waitsForNetwork = needsNetwork && !sealedBoot;
  refreshes = usesNetworkSources && cfg.refresh.interval != null;
  stateMounts = lib.optional usesNetworkSources cfg.network.stateDir;

  # What must be mounted before a run: key files, source files outside the store, and the
  # directories of custom paths (a link made before its file system is mounted would be hidden).
  keyMountsOf = k: k.ageKeyFiles or [ ] ++ k.sshKeyPaths or [ ] ++ lib.optional ((k.gnupgHome or null) != null) k.gnupgHome ++ k.gnupgSshKeyPaths or [ ];
  keyMounts = keyMountsOf (mlib.keysOf cfg) ++ lib.optional (cfg.onepassword.tokenFile != null) cfg.onepassword.tokenFile;
  sourceMounts = secrets: map toString (lib.filter (f: !(mlib.inStore f)) (lib.concatLists (lib.mapAttrsToList (mlib.sourceFiles cfg) secrets)));
  mountsFor = paths: lib.optionalAttrs (paths != [ ]) { RequiresMountsFor = lib.unique paths; };
  linkMounts = entries: map (e: dirOf e.path) (lib.filter (e: e.path != e.defaultPath) entries);
  entriesOf = dir: set: lib.mapAttrsToList (name: e: e // { inherit name; defaultPath = "${dir}/${name}"; }) set;
  regularEntries = entriesOf cfg.secretsDir regularSecrets ++ entriesOf cfg.secretsDir cfg.templates;
  allEntries = regularEntries ++ lib.concatMap instanceEntries (lib.attrValues instances);
  forUsersEntries = entriesOf cfg.secretsForUsersDir secretsForUsers;

  runtimePathFor = keys: [ pkgs.util-linux pkgs.getent config.systemd.package ] ++ lib.optional (mlib.usesGnupg keys) pkgs.gnupg;
  runtimePath = runtimePathFor (mlib.keysOf cfg);
  # Activation snippets run with NixOS's short PATH (coreutils, util-linux, getent, shadow…), which
  # has no gpg: a run there gets the units' tools first, so PGP-encrypted files open there too.
  withRuntimePath = keys: "PATH=${lib.escapeShellArg (lib.makeBinPath (runtimePathFor keys))}:\"$PATH\"";

  # Type, retries and their exit codes come from units.json (shared with home-manager and the
  # portable unit files): only 75 (temporary) and crashes are retried.
  serviceConfig = file: unitsFlag: { boot ? false }: removeAttrs units.service.Service [ "RestartSec" ] // {
    ExecStart = "${cfg.package}/bin/materialize apply --config ${file}${lib.optionalString boot " --boot"} --units ${unitsFlag} --timeout ${toString cfg.timeout}";
    RestartSec = mkDefault units.service.Service.RestartSec;
    # The fetch deadline, the default lock wait (60 s) and a margin.
    TimeoutStartSec = mkDefault "${toString (cfg.timeout + 90)}s";
  };

  # The oneshot unit that applies one manifest (the main one, or an instance's).
  secretsService = { dir, file, mounts, keys }: {
    description = "Materialize secrets into ${dir}";
    # Even with earlyBoot (then Before=sysinit.target): see units.json.
    wantedBy = [ units.service.systemWantedBy ];
    # Not Wants= the target (units.json): a successful run starts it (ExecStartPost below).
    before = units.service.Unit.Before ++ lib.optionals cfg.earlyBoot [ "sysinit.target" "shutdown.target" ];
    conflicts = lib.optionals cfg.earlyBoot [ "shutdown.target" ];
    # With sealed values, no network-online.target on the boot's critical path (--boot below).
    after = usersUnits ++ lib.optionals waitsForNetwork [ "network-online.target" ];
    wants = lib.optionals waitsForNetwork [ "network-online.target" ];
    path = runtimePathFor keys;
    # Re-run on every switch whose manifest changed; restart in place (never stop first).
    restartTriggers = [ file ];
    restartIfChanged = true;
    stopIfChanged = false;
    unitConfig = mountsFor mounts // lib.optionalAttrs cfg.earlyBoot { DefaultDependencies = false; };
    # --boot: after a reboot, network sources' values come from the sealed store at once; a no-op
    # for sops and age, without a seal, and once a generation is live (as in the portable unit).
    serviceConfig = serviceConfig file "yes" { boot = true; } // {
      # "Secrets are ready" after every successful run, also one after a failed run.
      ExecStartPost = "${config.systemd.package}/bin/systemctl ${units.service.startTarget}";
    };
  };

  # An instance applied once more before users are created (agenix's password files): owners that
  # do not exist yet fail that run (exit 78) without harm; its unit applies it again afterwards.
  beforeUsersCommand = id: ''
    ${withRuntimePath instances.${id}.keys} ${cfg.package}/bin/materialize apply --config ${instanceFiles.${id}} --units no --quiet --timeout ${toString cfg.timeout} || {
      rc=$?
      if [ "$rc" -eq 78 ]; then echo "materialize: ${instances.${id}.secretsDir} is applied again by ${instanceUnit id}.service once users exist" >&2; else (exit "$rc"); fi
    }
  '';
in
{
  # One key however the module is imported (the flake's directory, default.nix, a compatibility
  # module that imports it): the module system loads it once instead of declaring its options twice.
  key = "materialize/nixos-module";

  # recursiveUpdate: the module adds options inside the shared groups (age.sshKeyPaths).
  options.materialize = lib.recursiveUpdate (mlib.commonOptions {
    inherit pkgs cfg;
    defaultSecretsDir = "/run/secrets";
    secretsDirDescription = "The symlink to the live generation; secrets are at `<secretsDir>/<name>`.";
    service = "system service";
    manifestFileNote = "; also at /etc/materialize/secrets.json";
    defaultStateDir = "/var/lib/materialize";
    defaultStateDirText = ''"/var/lib/materialize"'';
  }) {
    secrets = mkOption {
      type = types.attrsOf (mlib.secretType {
        inherit cfg;
        defaultDir = secret: if secret.neededForUsers then cfg.secretsForUsersDir else cfg.secretsDir;
        defaultDirText = "config.materialize.secretsDir";
        extraOptions.neededForUsers = mkOption {
          type = types.bool;
          default = false;
          description = ''
            Materialize this secret before users are created (for `users.users.<name>.hashedPasswordFile`),
            under `materialize.secretsForUsersDir`. It must be owned by root; templates cannot use it.
            Its key must be on a file system mounted in stage 1 (like the root file system).
          '';
        };
      });
      default = { };
      example = literalExpression ''
        {
          "db/password" = { sops.file = ./secrets.yaml; owner = "postgres"; restartUnits = [ "postgresql.service" ]; };
          deploy-key = { age.file = ./deploy-key.age; path = "/root/.ssh/deploy"; };
        }
      '';
      description = "Secrets to materialize, by name (the path under `secretsDir`; `/` makes directories).";
    };

    age.sshKeyPaths = mkOption {
      type = types.listOf mlib.absolutePathString;
      default =
        if config.services.openssh.enable
        then map (k: toString k.path) (lib.filter (k: k.type == "ed25519") config.services.openssh.hostKeys)
        else [ ];
      defaultText = literalExpression ''the ed25519 keys of services.openssh.hostKeys when services.openssh.enable'';
      description = "OpenSSH private keys used as age identities (ed25519, and RSA).";
    };

    mountPoint = mkOption {
      type = types.str;
      default = "/run/secrets.d";
      description = "Where the numbered generations live.";
    };

    mount = mkOption {
      type = types.enum [ "ramfs" "tmpfs" "none" ];
      default = "ramfs";
      description = "File system mounted at `mountPoint` (ramfs never swaps); `none`: a plain directory.";
    };

    secretsForUsersDir = mkOption {
      type = types.str;
      default = "/run/secrets-for-users";
      description = "The directory of `neededForUsers` secrets (generations under `<this>.d`).";
    };

    earlyBoot = mkOption {
      type = types.bool;
      default = !needsNetwork;
      defaultText = literalExpression "true when every source is offline (sops, age)";
      description = ''
        Run before `sysinit.target` (`DefaultDependencies=no`), so even early services find their
        secrets. Needs keys on file systems mounted by then (`RequiresMountsFor=` orders the unit after
        the mounts of key and source files). Set it to false when a key only appears later (written by
        cloud-init, on a network file system): the unit then runs in `multi-user.target`, after
        `network-online.target` when a provider needs the network and `network.seal.enable` is off
        (with sealed values it does not wait: the refresh unit asks the network once it is up).
      '';
    };

    instances = mkOption {
      type = types.attrsOf (mlib.instanceType {
        inherit cfg;
        defaultMount = cfg.mount;
        extraOptions.beforeUsers = mkOption {
          type = types.bool;
          default = false;
          description = "Also apply this instance before users are created (files used as `hashedPasswordFile`).";
        };
      });
      default = { };
      internal = true;
      description = "Other secrets directories, each with its own generations and unit (used by the agenix compatibility module).";
    };

    instanceManifests = mkOption {
      type = types.attrsOf types.attrs;
      readOnly = true;
      internal = true;
      description = "The secrets.json of each instance.";
    };

    manifestForUsers = mkOption {
      type = types.nullOr types.attrs;
      readOnly = true;
      description = "The secrets.json applied before users are created; null when no secret is `neededForUsers`.";
    };
  };

  config = mkMerge [
    {
      materialize.manifest = manifest;
      materialize.manifestForUsers = if hasForUsers then manifestForUsers else null;
      materialize.manifestFile = regularFile;
      materialize.instanceManifests = lib.mapAttrs (_: instanceManifest) instances;
      # Templates can use the secrets of the system service only.
      materialize.placeholder = lib.mapAttrs (name: _: "{{${name}}}") regularSecrets;
    }

    (mkIf (hasRegular || hasForUsers || hasInstances) {
      assertions =
        mlib.secretAssertions { inherit cfg option; secrets = cfg.secrets; }
        ++ mlib.templateAssertions { inherit cfg option; inherit (cfg) templates; }
        ++ lib.concatLists (lib.mapAttrsToList (id: inst:
          let
            at = "${option}.instances.${id}";
            icfg = cfg // { inherit (inst) validateSecrets; };
          in
          mlib.secretAssertions { cfg = icfg; option = at; inherit (inst) secrets; }
          ++ mlib.templateAssertions { cfg = icfg; option = at; inherit (inst) templates; }
          ++ map (p: {
            assertion = lib.hasPrefix "/" p.value;
            message = "${at}: ${p.what} is ${builtins.toJSON p.value}; expected an absolute path.";
          }) ([ { what = "secretsDir"; value = inst.secretsDir; } { what = "mountPoint"; value = inst.mountPoint; } ]
            ++ map (e: { what = "the path of ${mlib.showName e.name}"; value = e.path; }) (instanceEntries inst))
        ) instances)
        # Each directory holds one manifest's generations.
        ++ (let
          dirs = lib.optionals hasRegular [
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
        ++ [ (mlib.keyAssertion { inherit cfg option; secrets = cfg.secrets; }) (mlib.onePasswordAssertion { inherit cfg option; secrets = cfg.secrets; }) ]
        ++ mlib.pathAssertions {
          inherit option;
          entries =
            lib.mapAttrsToList (name: s: { inherit (s) path; what = "secret ${mlib.showName name}"; }) cfg.secrets
            ++ lib.mapAttrsToList (name: t: { inherit (t) path; what = "template ${mlib.showName name}"; }) cfg.templates
            ++ lib.concatLists (lib.mapAttrsToList (id: inst:
              lib.mapAttrsToList (name: s: { inherit (s) path; what = "secret ${mlib.showName name} of instance ${id}"; }) inst.secrets
              ++ lib.mapAttrsToList (name: t: { inherit (t) path; what = "template ${mlib.showName name} of instance ${id}"; }) inst.templates
            ) instances);
        }
        ++ lib.mapAttrsToList (name: s: {
          assertion = lib.elem s.owner [ null "root" 0 "0" ] && lib.elem s.group [ null "root" 0 "0" ];
          message = "${option}.secrets.${mlib.showName name}: neededForUsers secrets are materialized before users exist, so they must be owned by root (owner and group null, \"root\" or 0).";
        }) secretsForUsers
        # Secrets for users are applied before the network is up (activation, or a unit before users exist).
        ++ lib.mapAttrsToList (name: s: {
          assertion = lib.all (p: lib.elem p mlib.offlineProviders) (mlib.providersUsed cfg { ${name} = s; });
          message = "${option}.secrets.${mlib.showName name}: neededForUsers secrets are materialized before the network is up, so they can only come from sops or age files.";
        }) secretsForUsers
        ++ [{
          # Before sysinit.target nothing can wait for the network: only sealed values can be published there.
          assertion = !(cfg.earlyBoot && waitsForNetwork);
          message = "${option}.earlyBoot runs the unit before sysinit.target, where it cannot wait for the network that ${lib.concatStringsSep " and " (lib.filter (p: !(lib.elem p mlib.offlineProviders)) providers)} needs: set ${option}.earlyBoot = false, or keep ${option}.network.seal.enable (the boot run then publishes sealed values without the network).";
        }]
        ++ [{
          assertion = !hasForUsers || cfg.secretsForUsersDir != cfg.secretsDir;
          message = "${option}.secretsForUsersDir must differ from ${option}.secretsDir.";
        }]
        # The manifest lives in the store: a relative path would be resolved against it.
        ++ map (p: {
          assertion = lib.hasPrefix "/" p.value;
          message = "${option}: ${p.what} is ${builtins.toJSON p.value}; expected an absolute path.";
        }) ([ { what = "secretsDir"; value = cfg.secretsDir; } { what = "mountPoint"; value = cfg.mountPoint; } { what = "secretsForUsersDir"; value = cfg.secretsForUsersDir; } ]
          ++ lib.mapAttrsToList (name: s: { what = "the path of secret ${mlib.showName name}"; value = s.path; }) cfg.secrets
          ++ lib.mapAttrsToList (name: t: { what = "the path of template ${mlib.showName name}"; value = t.path; }) cfg.templates);

      warnings = lib.concatLists (lib.mapAttrsToList (name: s:
        lib.optional (s.restartUnits != [ ] || s.reloadUnits != [ ])
          "${option}.secrets.${mlib.showName name}: restartUnits and reloadUnits are ignored for neededForUsers secrets (they are applied during activation, before services run)."
      ) secretsForUsers);

      environment.systemPackages = [ cfg.package ];
    })

    (mkIf (hasRegular || hasInstances) {
      # Services that name a secret's units start after the secrets.
      systemd.services = lib.genAttrs (lib.filter (u: u != unit && u != forUsersUnit && !(lib.hasPrefix "${unit}-" u)) (mlib.dependentServices allEntries)) (_: {
        after = [ "${unit}.target" ];
        wants = [ "${unit}.target" ];
      });

      # "Secrets are ready." Requisite=, not Requires=: a consumer started while a service is failed
      # does not run it again; each successful run of a service starts it (units.json).
      # X-StopOnReconfiguration makes switch-to-configuration stop it first, so a unit ordered after
      # it restarts after the secrets services, not alongside them.
      systemd.targets.${unit} = let appliers = map (id: "${instanceUnit id}.service") (lib.attrNames instances); in {
        description = "Secrets from materialize are ready";
        wantedBy = [ (if cfg.earlyBoot then "sysinit.target" else "multi-user.target") ];
        requisite = lib.optionals hasRegular units.target.Unit.Requisite ++ appliers;
        after = lib.optionals hasRegular units.target.Unit.After ++ appliers;
        unitConfig.X-StopOnReconfiguration = true;
      };
    })

    (mkIf hasRegular {
      # `materialize status --config /etc/materialize/secrets.json`
      environment.etc."materialize/secrets.json".source = regularFile;
      systemd.services.${unit} = secretsService {
        dir = cfg.secretsDir;
        file = regularFile;
        mounts = keyMounts ++ stateMounts ++ sourceMounts regularSecrets ++ linkMounts regularEntries;
        keys = mlib.keysOf cfg;
      };
    })

    # The refresh of network sources: a oneshot service started by a timer (units.json, `refresh`).
    (mkIf (hasRegular && refreshes) {
      systemd.services."${unit}-refresh" = {
        description = "Refresh secrets from network sources into ${cfg.secretsDir}";
        after = units.refresh.systemUnit.After ++ usersUnits;
        wants = units.refresh.systemUnit.Wants;
        path = runtimePath;
        # A switch applies through the secrets service; the timer alone starts this one.
        restartIfChanged = false;
        unitConfig = mountsFor (keyMounts ++ stateMounts ++ sourceMounts regularSecrets ++ linkMounts regularEntries);
        serviceConfig = serviceConfig regularFile "yes" { } // { RemainAfterExit = false; };
      };
      systemd.timers."${unit}-refresh" = {
        description = "Refresh secrets from network sources every ${cfg.refresh.interval}";
        wantedBy = [ "timers.target" ];
        timerConfig = units.refresh.Timer // {
          OnUnitActiveSec = cfg.refresh.interval;
          RandomizedDelaySec = cfg.refresh.randomizedDelay;
        };
      };
    })

    (mkIf hasInstances {
      environment.etc = lib.mapAttrs' (id: file: lib.nameValuePair "materialize/secrets-${id}.json" { source = file; }) instanceFiles;
      systemd.services = lib.mapAttrs' (id: inst: lib.nameValuePair (instanceUnit id) (secretsService {
        dir = inst.secretsDir;
        file = instanceFiles.${id};
        mounts = keyMountsOf inst.keys ++ sourceMounts inst.secrets ++ linkMounts (instanceEntries inst);
        inherit (inst) keys;
      })) instances;
    })

    (mkIf (beforeUsersInstances != { } && usersUnits == [ ]) {
      system.activationScripts = lib.mapAttrs' (id: _: lib.nameValuePair "materializeSecrets-${id}" {
        deps = [ "specialfs" ];
        text = beforeUsersCommand id;
      }) beforeUsersInstances // {
        users.deps = map (id: "materializeSecrets-${id}") (lib.attrNames beforeUsersInstances);
      };
    })

    (mkIf (beforeUsersInstances != { } && usersUnits != [ ]) {
      systemd.services = lib.mapAttrs' (id: inst: lib.nameValuePair "${instanceUnit id}-before-users" {
        description = "Materialize secrets into ${inst.secretsDir} before users are created";
        wantedBy = usersUnits;
        before = usersUnits ++ [ "shutdown.target" ];
        conflicts = [ "shutdown.target" ];
        path = runtimePathFor inst.keys;
        restartTriggers = [ instanceFiles.${id} ];
        restartIfChanged = true;
        stopIfChanged = false;
        unitConfig = { DefaultDependencies = false; } // mountsFor (keyMountsOf inst.keys ++ sourceMounts inst.secrets);
        serviceConfig = { Type = "oneshot"; RemainAfterExit = true; };
        script = beforeUsersCommand id;
      }) beforeUsersInstances;
    })

    # neededForUsers, scripted user creation (the default): an activation snippet before `users`.
    (mkIf (hasForUsers && usersUnits == [ ]) {
      system.activationScripts.materializeSecretsForUsers = {
        deps = [ "specialfs" ];
        text = ''
          ${withRuntimePath (mlib.keysOf cfg)} ${cfg.package}/bin/materialize apply --config ${forUsersFile} --units no --quiet --timeout ${toString cfg.timeout}
        '';
      };
      system.activationScripts.users.deps = [ "materializeSecretsForUsers" ];
    })

    # neededForUsers with systemd-sysusers or userborn: a unit before the one that creates users.
    (mkIf (hasForUsers && usersUnits != [ ]) {
      systemd.services.${forUsersUnit} = {
        description = "Materialize secrets needed to create users into ${cfg.secretsForUsersDir}";
        wantedBy = usersUnits;
        before = usersUnits ++ [ "shutdown.target" ];
        conflicts = [ "shutdown.target" ];
        path = runtimePath;
        restartTriggers = [ forUsersFile ];
        restartIfChanged = true;
        stopIfChanged = false;
        unitConfig = { DefaultDependencies = false; } // mountsFor (keyMounts ++ sourceMounts secretsForUsers ++ linkMounts forUsersEntries);
        serviceConfig = serviceConfig forUsersFile "no" { };
      };
    })
  ];
}
