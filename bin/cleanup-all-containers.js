#!/usr/bin/env -S node --
// `cleanup-all-containers` = `runner-controller cleanup-all` (see src/cli/main.ts); the code lives in dist/.
process.argv.splice(2, 0, "cleanup-all");
await import("../dist/cli/main.js");
