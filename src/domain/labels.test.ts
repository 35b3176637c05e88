import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LabelMatcher, labelsMatch, normalizeLabels } from "./labels.js";

const ours = ["self-hosted", "ci", "nix", "x64", "Linux"];

describe("label matching", () => {
  it.each([
    [["self-hosted"], true],
    [["self-hosted", "linux", "X64"], true],
    [["SELF-HOSTED", "NIX"], true],
    [["nix"], true],
    [["self-hosted", "gpu"], false],
    [["ubuntu-latest"], false],
    [["self-hosted", "windows"], false],
    [[], false],
  ])("job labels %j → %s", (job, expected) => {
    expect(labelsMatch(job, ours)).toBe(expected);
  });

  it("is a subset test for any labels (property)", () => {
    const label = fc.stringMatching(/^[A-Za-z0-9-]{1,12}$/);
    fc.assert(
      fc.property(
        fc.uniqueArray(label, { maxLength: 8 }),
        fc.uniqueArray(label, { minLength: 1, maxLength: 5 }),
        (runner, job) => {
          const m = new LabelMatcher(runner);
          const folded = new Set(runner.map((l) => l.toLowerCase()));
          const expected = job.every((l) => folded.has(l.toLowerCase()));
          expect(m.matches(job)).toBe(expected);
          // Changing only the case never changes the answer.
          expect(m.matches(job.map((l) => l.toUpperCase()))).toBe(expected);
        },
      ),
    );
  });

  it("normalizes a configured list", () => {
    expect(normalizeLabels("a, B ,b,,c")).toEqual(["a", "B", "c"]);
    expect(normalizeLabels(" ,")).toBe("has no labels");
    expect(normalizeLabels(Array.from({ length: 101 }, (_, i) => `l${i}`).join(","))).toBe(
      "has more than 100 labels",
    );
  });
});
