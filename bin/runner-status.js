#!/usr/bin/env -S node --
// `runner-status` = `runner-controller status` (see src/cli/main.ts); the code lives in dist/.
process.argv.splice(2, 0, "status");
await import("../dist/cli/main.js");
