import { describe, expect, it } from "vitest";
import { CowMap } from "./cow-map.js";

describe("CowMap", () => {
  it("reads through to its source and leaves it alone when changed", () => {
    const source = new Map([
      ["a", 1],
      ["b", 2],
    ]);
    const m = CowMap.of(source);
    expect(m.get("a")).toBe(1);
    expect(m.size).toBe(2);
    m.set("c", 3);
    m.delete("a");
    expect([...m]).toEqual([
      ["b", 2],
      ["c", 3],
    ]);
    expect([...source]).toEqual([
      ["a", 1],
      ["b", 2],
    ]);
    expect(m.delete("zz")).toBe(false);
    expect(m instanceof Map && m.has("b") && !m.has("a")).toBe(true);
  });

  it("a copy of a copy sees its contents, and each changes on its own", () => {
    const first = CowMap.of(new Map([["a", 1]]));
    first.set("b", 2);
    const second = CowMap.of(first);
    second.delete("b");
    second.set("c", 3);
    expect([...first.keys()]).toEqual(["a", "b"]);
    expect([...second.keys()]).toEqual(["a", "c"]);
    const seen: string[] = [];
    second.forEach((v, k) => seen.push(`${k}=${v}`));
    expect(seen).toEqual(["a=1", "c=3"]);
    // Deleting while iterating, as the core prunes its memories.
    for (const [k] of second) second.delete(k);
    expect(second.size).toBe(0);
    expect(first.size).toBe(2);
  });
});
