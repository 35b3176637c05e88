/** The README's metrics table names every series the daemon exports (metrics-names.ts). */
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { packagePath } from "../util/paths.js";
import { METRICS } from "./metrics-names.js";

it("the README's metrics table has a row for every metric", () => {
  const readme = readFileSync(packagePath("README.md"), "utf8");
  const start = readme.indexOf("### Metrics\n");
  expect(start).toBeGreaterThan(0);
  const section = readme.slice(start, readme.indexOf("\n#", start + 1));
  const rows = new Set([...section.matchAll(/^\| `([a-z_]+)(?:\{[a-z]+\})?` +\|/gm)].map((m) => m[1]!));
  expect([...rows].sort()).toEqual(Object.keys(METRICS).sort());
});
