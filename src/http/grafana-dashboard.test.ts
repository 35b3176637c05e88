/**
 * contrib/grafana-dashboard.json parses, is a dashboard, and every runner_controller_ series its
 * queries name exists in the daemon's registry (histograms by their _bucket/_sum/_count).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { packagePath } from "../util/paths.js";
import { createMetrics } from "./metrics.js";
import type { DaemonView } from "./daemon-view.js";

const view: DaemonView = {
  maxConcurrent: 1,
  containers: () => [],
  counters: () => ({
    created: 0,
    createFailed: 0,
    destroyed: 0,
    destroyedByReason: {},
    peakActive: 0,
    polls: 0,
    pollFailures: 0,
    orphansDestroyed: 0,
    ghostsDeregistered: 0,
  }),
  minIdle: () => 0,
  queuedJobs: () => null,
  githubHealth: () => ({
    lastSuccessAt: null,
    lastError: null,
    consecutiveFailures: 0,
    unauthorized: false,
    blockedUntil: null,
    rateLimit: null,
  }),
  githubStats: () => ({ requests: 0, notModified: 0, errors: 0, cached: 0 }),
  health: () => ({ ok: true, text: "OK" }),
  now: () => 0,
};

interface Panel {
  readonly title: string;
  readonly targets?: readonly { readonly expr: string }[];
}

describe("contrib/grafana-dashboard.json", () => {
  it("parses and uses only series the daemon exports", async () => {
    const dashboard = JSON.parse(readFileSync(packagePath("contrib/grafana-dashboard.json"), "utf8")) as {
      title: string;
      panels: Panel[];
    };
    expect(dashboard.title).toBe("runner-controller");
    const registry = createMetrics(view).registry;
    const families = await registry.getMetricsAsJSON();
    const exported = new Set<string>();
    for (const f of families) {
      exported.add(f.name);
      if (String(f.type) === "histogram")
        for (const s of ["_bucket", "_sum", "_count"]) exported.add(f.name + s);
    }
    const used = new Set<string>();
    for (const p of dashboard.panels) {
      expect(p.targets?.length ?? 0, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? [])
        for (const m of t.expr.matchAll(/runner_controller_[a-z0-9_]+/g)) used.add(m[0]);
    }
    expect(used.size).toBeGreaterThan(15);
    const missing = [...used].filter((n) => !exported.has(n));
    expect(missing).toEqual([]);
  });
});
