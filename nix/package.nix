# The runner-controller package, built from the npm lock file: `npm ci` with the locked
# dependencies, `npm run build` (tsc → dist/), dev dependencies pruned, and the bins of
# package.json wrapped with Node.
{
  lib,
  buildNpmPackage,
  importNpmLock,
  nodejs_20,
}:
let
  rc = import ./lib.nix;
  manifest = lib.importJSON ../package.json;
in
buildNpmPackage {
  pname = manifest.name;
  inherit (manifest) version;

  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../package.json
      ../package-lock.json
      ../tsconfig.json
      ../tsconfig.build.json
      ../src
      ../bin
      ../nix
      ../README.md
    ];
  };

  nodejs = nodejs_20;

  # Dependencies come from the lock file's integrity hashes: no npmDepsHash to keep up to date.
  # The lock file carries no download URLs, so they are filled in from the registry's layout.
  npmDeps = importNpmLock {
    package = manifest;
    packageLock = rc.withResolvedUrls (lib.importJSON ../package-lock.json);
  };
  npmConfigHook = importNpmLock.npmConfigHook;

  npmBuildScript = "build";

  meta = {
    description = manifest.description;
    license = lib.licenses.mit;
    mainProgram = "runner-controller";
    platforms = lib.platforms.linux;
  };
}
