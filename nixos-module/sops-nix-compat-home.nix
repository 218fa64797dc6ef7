# sops-nix compatibility (home-manager): declares the `sops.*` options of sops-nix's home-manager
# module with its names, types and defaults (Mic92/sops-nix modules/home-manager/sops.nix and
# templates.nix at commit 56b24064fdcaedca53553b1a6d607fd23b613a24, read for facts only) and maps
# them onto a materialize instance of their own: the latest generation at
# ~/.config/sops-nix/secrets (a symlink into $XDG_RUNTIME_DIR/secrets.d), templates under its
# `rendered/`, applied by the user unit `materialize-secrets-sops-nix` (what it shares with the
# NixOS module is in sops-nix-common.nix). Swap
# `sops-nix.homeManagerModules.sops` for `materialize.homeManagerModules.sops-nix-compat`.
{ config, lib, pkgs, options, ... }:
let
  inherit (lib) mkOption mkIf mkMerge types;
  cfg = config.sops;
  c = import ./compat.nix { inherit lib; };

  common = import ./sops-nix-common.nix { inherit lib pkgs config options; };

  secretType = types.submodule ({ name, ... }: {
    options = common.secretOptions { inherit name; where = "the secrets directory"; } // {
      path = mkOption {
        type = types.str;
        default = "${cfg.defaultSymlinkPath}/${name}";
        description = "Path where the secret is found (`%r` is the runtime directory); another value becomes a symlink.";
      };
    };
  });

  # The home-manager configuration, which a submodule's own `config` hides.
  hmConfig = config;
  templateType = types.submodule ({ config, ... }: {
    options = common.templateOptions { inherit config; where = "the `rendered` directory"; path = "${hmConfig.xdg.configHome}/sops-nix/secrets/rendered/${config.name}"; };
  });

  # The runtime directory: `%r` in sops-nix, `%t` in materialize (and systemd).
  runtime = c.runtimePath [ "%r/" ];
  # What materialize takes from a secret or template besides its text (the user's own files: no owner, no units).
  fileOf = entry: { inherit (entry) mode; path = runtime entry.path; };
in
{
  imports = [ ./home-manager.nix ];

  # recursiveUpdate: the Qubes options go inside `gnupg`.
  options.sops = lib.recursiveUpdate (common.options {
    inherit secretType templateType;
    built = "the configuration is built";
    examples = { ageKeyFile = "/home/someuser/.age-key.txt"; gnupgHome = "/home/someuser/.gnupg"; };
    # No host keys here: none by default.
    keyPaths = _: { default = [ ]; };
  }) {
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
    gnupg.qubes-split-gpg = {
      enable = lib.mkEnableOption "Qubes Split GPG (not supported by materialize: an error when enabled)";
      domain = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "vault-gpg";
        description = "The Qube holding the GPG keys (not supported by materialize).";
      };
    };
  };

  config = mkMerge [
    common.placeholders

    (mkIf common.used {
      materialize.instances.sops-nix = {
        secretsDir = runtime cfg.defaultSymlinkPath;
        mountPoint = runtime cfg.defaultSecretsMountPoint;
        inherit (cfg) keepGenerations;
        validateSecrets = cfg.validateSopsFiles;
        keys = { inherit (common.keys) ageKeyFiles sshKeyPaths gnupgHome; }
          // lib.optionalAttrs (cfg.gnupg.sshKeyPaths != [ ]) { inherit (common.keys) gnupgSshKeyPaths; };
        secrets = common.secrets fileOf;
        templates = common.templates fileOf;
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
        common.pluginsAssertion
      ]
      ++ common.entryAssertions;

      warnings = common.warnings {
        keyAdvice = "";
        journal = "journalctl --user -u materialize-secrets-sops-nix";
        packages = [ [ "package" ] [ "gnupg" "package" ] ];
      };
    })
  ];
}
