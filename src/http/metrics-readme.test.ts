/** The README's metrics table names every series the daemon exports (metrics-names.ts). */
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { packagePath } from "../util/paths.js";
import { METRICS } from "./metrics-names.js";

it("the README's metrics table has a row for every metric", () => {
  const readme = readFileSync(packagePath("README.md"), "utf8");
  const rows = new Set([...readme.matchAll(/^\| `([a-z_]+)(?:\{[a-z]+\})?` +\|/gm)].map((m) => m[1]!));
  expect([...rows].sort()).toEqual(Object.keys(METRICS).sort());
});
