#!/usr/bin/env node
// The simulator's stand-in for the official GitHub Actions runner (see src/sim/runner-main.ts).
import "../dist/sim/runner-main.js";
