#!/usr/bin/env -S node --optimize-for-size --
// Entry point; the code lives in dist/ (built by `npm run build`, run by `npm ci` via `prepare`).
import "../dist/cli/main.js";
