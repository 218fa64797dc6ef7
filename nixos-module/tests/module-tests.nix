# The TypeScript tests of the Nix modules (test/nixos/*.test.ts) inside the Nix sandbox, with the
# flake's own nixpkgs lib as NIXPKGS_LIB: the module evaluations, `materialize check` on the
# generated manifests, the home-manager run and the sops-nix/agenix compatibility modules.
# `nix-instantiate` uses a `dummy://` store in read-only mode, so nothing needs the Nix daemon.
{ pkgs, lib ? pkgs.lib, nixpkgsLib, materialize }:
let
  src = lib.cleanSource ../..;
  nodeModules = pkgs.importNpmLock.buildNodeModules {
    inherit (materialize.passthru) package packageLock;
    inherit (pkgs) nodejs;
  };
in
pkgs.runCommand "materialize-module-tests" {
  nativeBuildInputs = [ pkgs.nodejs pkgs.nix ];
} ''
  cp -r ${src} repo
  chmod -R u+w repo
  cd repo
  rm -rf node_modules dist dist-nix
  ln -s ${nodeModules}/node_modules node_modules
  export HOME=$TMPDIR NIX_STATE_DIR=$TMPDIR/nix-state NIX_LOG_DIR=$TMPDIR/nix-log NIXPKGS_LIB=${nixpkgsLib}
  MATERIALIZE_DIST=dist-nix node scripts/build.mjs
  MATERIALIZE_DIST=dist-nix node scripts/test.mjs test/nixos/parse.test.ts test/nixos/eval.test.ts
  MATERIALIZE_DIST=dist-nix node scripts/test.mjs test/nixos/compat.test.ts
  touch $out
''
