# Shared by the sops-nix and agenix compatibility modules: how the peers' values become
# `materialize.*` values. Facts about the peers come from their sources (see the commits named atop
# sops-nix-compat.nix and agenix-compat.nix); nothing here is their code.
{ lib }:
rec {
  inherit (import ./lib.nix { inherit lib; }) inStore;

  # sops-nix's placeholder text for a secret (modules/sops/templates): what
  # `config.sops.placeholder.<name>` evaluates to, so that configurations that build strings from it
  # (or compare them) see the same value as with sops-nix.
  placeholder = name: "<SOPS:${builtins.hashString "sha256" name}:PLACEHOLDER>";

  # sops-nix renders a template by replacing each placeholder with its secret's value and leaving
  # every other character alone. materialize's syntax is `{{ name }}` with `\{{` for a literal `{{`:
  # escaping every `{{` first, then turning placeholders into `{{ name }}`, renders the same text.
  # `secrets` maps sops-nix attribute names to materialize names (sops-nix's `name` option).
  translateContent = secrets: content:
    let
      attrs = lib.attrNames secrets;
      escaped = builtins.replaceStrings [ "{{" ] [ "\\{{" ] content;
    in
    builtins.replaceStrings (map placeholder attrs) (map (a: "{{${secrets.${a}}}}") attrs) escaped;

  # The same translation for a template file, done when the system is built (the file may be a
  # derivation's output, unknown at evaluation): sed, one expression per placeholder.
  translateFile = { pkgs, name, secrets, file }:
    let
      attrs = lib.attrNames secrets;
      # sed replacement text: `\`, `&` and the delimiter are special; names have no newline.
      sedEscape = builtins.replaceStrings [ "\\" "&" "|" ] [ "\\\\" "\\&" "\\|" ];
      expressions = [ "-e" "s|{{|\\\\{{|g" ]
        ++ lib.concatMap (a: [ "-e" "s|${placeholder a}|{{${sedEscape secrets.${a}}}}|g" ]) attrs;
    in
    pkgs.runCommand "sops-template-${lib.strings.sanitizeDerivationName name}" { } ''
      sed ${lib.escapeShellArgs expressions} < ${file} > $out
    '';

  # An owner or group as the peers give it, for secrets.json: agenix passes strings to chown, which
  # reads a number as an id; sops-nix has separate uid/gid options. Root stays null (the default:
  # root for the system service) so that the manifest matches the direct configuration.
  numeric = v: builtins.isString v && builtins.match "[0-9]+" v != null;
  principal = v: if numeric v then lib.toInt v else v;

  # sops-nix: `owner` if set, else `uid`; `group` if set, else `gid` (0 and 0 by default).
  sopsOwner = entry: if entry.owner != null then entry.owner else if entry.uid != null && entry.uid != 0 then entry.uid else null;
  sopsGroup = entry:
    let owner = sopsOwner entry; in
    if entry.group != null then entry.group
    else if entry.gid != null && entry.gid != 0 then entry.gid
    else if owner == null then null
    else 0;

  # agenix: strings, "0" and users.${owner}.group or "0" by default.
  ageOwner = owner: let p = principal owner; in if p == 0 then null else p;
  ageGroup = owner: group: let p = principal group; in if p == 0 && ageOwner owner == null then null else p;

  # Entries whose `name` option gives them the same file (agenix and sops-nix both have one):
  # one assertion per clash, naming the entries.
  uniqueNames = option: entries:
    lib.mapAttrsToList (name: same: {
      assertion = builtins.length same == 1;
      message = "${option}: ${lib.concatMapStringsSep " and " lib.strings.escapeNixIdentifier same} are all named \"${name}\"; each needs its own name.";
    }) (lib.groupBy (attr: entries.${attr}.name) (lib.attrNames entries));

  # An option the user set (a definition above the option's default).
  isSet = option: option.highestPrio < (lib.mkOptionDefault null).priority;

  # A home-manager path with the runtime directory spelled the peer's way, in materialize's (`%t`).
  runtimePath = prefixes: p:
    let found = lib.findFirst (prefix: lib.hasPrefix prefix p) null prefixes; in
    if found == null then p else "%t/${lib.removePrefix found p}";

  # sops-nix's key for a format: binary, dotenv and ini files are written whole (the key is ignored).
  sopsKey = format: key:
    if format == "binary" then null
    else if format == "dotenv" || format == "ini" then ""
    else key;
}
