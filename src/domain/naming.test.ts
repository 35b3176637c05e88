import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  baseContainerName,
  containerNameFor,
  isContainerName,
  isPoolContainerName,
  MAX_CONTAINER_NAME_LENGTH,
  poolContainerNameFor,
  prefixOffset,
  runnerNameFor,
  runnerNameMatcher,
} from "./naming.js";

describe("container names", () => {
  it("is j + the last 7 digits of the job id", () => {
    expect(baseContainerName(41234567890)).toBe("j4567890");
    expect(baseContainerName(42)).toBe("j0000042");
  });

  it("adds a short suffix on collision and stays within 11 characters", () => {
    const taken = new Set(["j4567890"]);
    expect(containerNameFor(41234567890, taken)).toBe("j4567890-1");
    taken.add("j4567890-1");
    expect(containerNameFor(41234567890, taken)).toBe("j4567890-2");
  });

  it("every name is ≤ 11 chars of [a-z0-9-], starts with a letter and ends alphanumeric (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: 200 }),
        (jobId, collisions) => {
          const taken = new Set<string>();
          for (let i = 0; i <= collisions; i++) {
            const name = containerNameFor(jobId, taken);
            expect(name).not.toBeNull();
            expect(name!.length).toBeLessThanOrEqual(MAX_CONTAINER_NAME_LENGTH);
            expect(name).toMatch(/^[a-z][a-z0-9-]*[a-z0-9]$/);
            expect(isContainerName(name!)).toBe(true);
            expect(taken.has(name!)).toBe(false);
            taken.add(name!);
          }
        },
      ),
    );
  });

  it("recognises only names it makes", () => {
    for (const n of ["j1234567", "j1234567-1", "j1234567-zz"]) expect(isContainerName(n)).toBe(true);
    for (const n of ["web", "j123456", "j12345678", "j1234567-", "j1234567-abc", "J1234567", "j1234567_1"])
      expect(isContainerName(n)).toBe(false);
  });
});

describe("warm-pool container names", () => {
  it("are p + 7 digits of the planned second shifted by the prefix's offset, the same every time", () => {
    const second = 1_700_000_123;
    const name = poolContainerNameFor(second, "ci-a", new Set());
    expect(name).toBe(`p${String((second + prefixOffset("ci-a")) % 10_000_000).padStart(7, "0")}`);
    expect(poolContainerNameFor(second, "ci-a", new Set())).toBe(name);
    expect(poolContainerNameFor(second + 1, "ci-a", new Set())).not.toBe(name);
    expect(isPoolContainerName(name!)).toBe(true);
  });

  it("differ between two instances (prefixes) planning in the same second", () => {
    const prefixes = ["host", "host-a", "host-b", "ci-org", "ci-repo", "runner", "build-01", "build-02"];
    for (let second = 1_700_000_000; second < 1_700_000_050; second++) {
      const names = prefixes.map((p) => poolContainerNameFor(second, p, new Set()));
      expect(new Set(names).size, `second ${second}`).toBe(prefixes.length);
    }
  });

  it("stay ≤ 11 characters, recognised as ours, and avoid taken names (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$/),
        fc.integer({ min: 0, max: 40 }),
        (second, prefix, collisions) => {
          const taken = new Set<string>();
          for (let i = 0; i <= collisions; i++) {
            const name = poolContainerNameFor(second, prefix, taken);
            expect(name).not.toBeNull();
            expect(name!.length).toBeLessThanOrEqual(MAX_CONTAINER_NAME_LENGTH);
            expect(isPoolContainerName(name!)).toBe(true);
            expect(runnerNameMatcher(prefix)(runnerNameFor(prefix, name!))).toBe(name);
            expect(taken.has(name!)).toBe(false);
            taken.add(name!);
          }
        },
      ),
    );
  });
});

describe("runner names", () => {
  it("is PREFIX-CONTAINER and only our prefix matches", () => {
    const mine = runnerNameMatcher("ci-01");
    expect(runnerNameFor("ci-01", "j1234567")).toBe("ci-01-j1234567");
    expect(mine("ci-01-j1234567")).toBe("j1234567");
    expect(mine("ci-01-j1234567-2")).toBe("j1234567-2");
    expect(mine("ci-012-j1234567")).toBeNull();
    expect(mine("ci-01-j1234567-extra")).toBeNull();
    expect(mine("other-j1234567")).toBeNull();
    expect(runnerNameMatcher("a.b")("axb-j1234567")).toBeNull();
  });
});
