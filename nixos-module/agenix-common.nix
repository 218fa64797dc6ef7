# What agenix's NixOS and home-manager modules have in common, for agenix-compat.nix and
# agenix-compat-home.nix: a secret's options (names, types and defaults of ryantm/agenix at the
# commit named atop each module) and the parts of the mapping onto a materialize instance that are
# the same. What differs stays in each module: the directories, owners (NixOS only), the key
# defaults and the options one side has.
{ lib, config }:
let
  inherit (lib) mkOption mkEnableOption types;
  cfg = config.age;
  c = import ./compat.nix { inherit lib; };
  secrets = lib.attrValues cfg.secrets;
in
{
  # A secret's options that both declare alike; the NixOS module adds owner and group.
  secretOptions = { config }: {
    name = mkOption {
      type = types.str;
      default = config._module.args.name;
      description = "Name of the file used in {option}`age.secretsDir`.";
    };
    file = mkOption {
      type = types.path;
      description = "Age file the secret is loaded from.";
    };
    path = mkOption {
      type = types.str;
      default = "${cfg.secretsDir}/${config.name}";
      description = "Path where the decrypted secret is installed.";
    };
    mode = mkOption {
      type = types.str;
      default = "0400";
      description = "Permissions mode of the decrypted secret, in octal.";
    };
    symlink = mkEnableOption "symlinking secrets to their destination" // { default = true; };
  };

  # The instance's settings both give it: agenix keeps no earlier generation, and passes every
  # identity to `age -i`, which reads age identity files and SSH keys alike.
  instance = {
    keepGenerations = 1;
    keys = { ageKeyFiles = map toString cfg.identityPaths; sshKeyPaths = [ ]; gnupgHome = null; };
    # agenix reads files anywhere; the build-time check needs them in the store.
    validateSecrets = lib.mkDefault (config.materialize.validateSecrets && lib.all (s: c.inStore s.file) secrets);
  };

  # Each secret by its name: its age file, mode and symlink, and `more s` (path, owner…).
  secrets = more: lib.listToAttrs (map (s: lib.nameValuePair s.name ({
    age.file = s.file;
    inherit (s) mode symlink;
  } // more s)) secrets);

  # Each name is one file (agenix's `name` option may give two entries the same one); a mode is
  # octal, as materialize takes it.
  entryAssertions =
    c.uniqueNames "age.secrets" cfg.secrets
    ++ map (s: {
      assertion = builtins.match "[0-7]{3,4}" s.mode != null;
      message = "age.secrets.${lib.strings.escapeNixIdentifier s.name}.mode is \"${s.mode}\": materialize takes an octal mode (\"0400\", \"0440\"), not chmod's symbolic form.";
    }) secrets;
}
