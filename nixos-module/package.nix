# The materialize CLI: `npm run build` (esbuild bundle into dist/), then dist/, the production
# node_modules and a bin/materialize wrapper. Dependencies come from package-lock.json through
# importNpmLock (each tarball fetched by its integrity hash), so no dependency hash is kept here.
{
  lib,
  buildNpmPackage,
  importNpmLock,
  nodejs,
}:
let
  root = ../.;
  packageJson = lib.importJSON ../package.json;
  packageLock = lib.importJSON ../package-lock.json;

  # The lock file records each package's integrity but not always its `resolved` URL (npm leaves
  # it out for the default registry when `omit-lockfile-registry-resolved` is set); importNpmLock
  # fetches by `resolved`, so name the registry tarball the way npm does:
  # https://registry.npmjs.org/@scope/name/-/name-1.2.3.tgz
  withResolved = path: module:
    let
      name = module.name or (lib.last (lib.splitString "node_modules/" path));
      base = lib.last (lib.splitString "/" name);
    in
    if path == "" || module ? resolved || module.link or false || !(module ? version) then module
    else module // { resolved = "https://registry.npmjs.org/${name}/-/${base}-${module.version}.tgz"; };
  lockWithUrls = packageLock // { packages = lib.mapAttrs withResolved packageLock.packages; };
in
buildNpmPackage {
  pname = "materialize";
  inherit (packageJson) version;
  inherit nodejs;

  # Only what the build reads, so editing the modules, tests or docs does not rebuild the package.
  src = lib.cleanSourceWith {
    name = "materialize-source";
    src = root;
    filter = path: _type:
      let relative = lib.removePrefix "${toString root}/" (toString path); in
      lib.any (keep: relative == keep || lib.hasPrefix "${keep}/" relative) [
        "package.json"
        "package-lock.json"
        "tsconfig.json"
        "scripts"
        "src"
      ];
  };

  npmDeps = importNpmLock {
    package = packageJson;
    packageLock = lockWithUrls;
  };
  npmConfigHook = importNpmLock.npmConfigHook;

  # `npm run build`; the default install step then copies what package.json's "files" lists
  # (dist/), prunes node_modules to production dependencies and wraps "bin" (bin/materialize).
  npmBuildScript = "build";
  # `npm pack` (which lists the files to install) would run the "prepare" script, a second build.
  npmPackFlags = [ "--ignore-scripts" ];

  # For importNpmLock.buildNodeModules (the development dependencies of the test check).
  passthru = { package = packageJson; packageLock = lockWithUrls; };

  meta = {
    description = "Turn a declarative secrets.json into secret files under /run/secrets, from sops, age, 1Password or Bitwarden";
    license = lib.licenses.mit;
    mainProgram = "materialize";
    platforms = lib.platforms.linux;
  };
}
