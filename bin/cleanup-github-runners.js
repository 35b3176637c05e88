#!/usr/bin/env -S node --
// `cleanup-github-runners` = `runner-controller cleanup-runners` (see src/cli/main.ts); the code lives in dist/.
process.argv.splice(2, 0, "cleanup-runners");
await import("../dist/cli/main.js");
