import { describe, expect, it } from "vitest";
import { compilePattern, Router } from "./router.js";

describe("Router", () => {
  const router = new Router<string>()
    .on("GET", "/repos/:owner/:repo/actions/runners", "list")
    .on("GET", "/repos/:owner/:repo/actions/runners/:id(\\d+)", "get")
    .on("delete", "/repos/:owner/:repo/actions/runners/:id(\\d+)", "delete")
    .on("POST", "/repos/:owner/:repo/actions/runners/generate-jitconfig", "jit")
    .on("DELETE", "/tokens/*token", "token");

  it("finds a route by method and path and hands over its named values", () => {
    expect(router.match("GET", "/repos/octo/widgets/actions/runners/42")).toEqual({
      kind: "found",
      handler: "get",
      params: { owner: "octo", repo: "widgets", id: "42" },
      pattern: "/repos/:owner/:repo/actions/runners/:id(\\d+)",
    });
    const del = router.match("delete", "/repos/o/r/actions/runners/7");
    expect(del.kind === "found" && del.handler).toBe("delete");
    const jit = router.match("POST", "/repos/o/r/actions/runners/generate-jitconfig");
    expect(jit.kind === "found" && jit.handler).toBe("jit");
  });

  it("tells a path no route knows from a known path asked with another method", () => {
    expect(router.match("GET", "/repos/o/r/actions/runs")).toEqual({ kind: "not-found" });
    expect(router.match("GET", "/repos/o/r/actions/runners/")).toEqual({ kind: "not-found" });
    expect(router.match("GET", "/repos/o/r/actions/runners/x1")).toEqual({ kind: "not-found" });
    expect(router.match("PUT", "/repos/o/r/actions/runners/3")).toEqual({
      kind: "method-not-allowed",
      allow: ["GET", "DELETE"],
    });
    expect(router.match("GET", "/repos/o/r/actions/runners/generate-jitconfig")).toEqual({
      kind: "method-not-allowed",
      allow: ["POST"],
    });
  });

  it("decodes values, and a rest parameter takes the rest of the path", () => {
    const m = router.match("DELETE", "/tokens/a%2Fb/c%20d");
    expect(m.kind === "found" && m.params).toEqual({ token: "a/b/c d" });
    const one = router.match("GET", "/repos/my%20org/r/actions/runners");
    expect(one.kind === "found" && one.params["owner"]).toBe("my org");
    // A malformed escape is passed on as it came.
    const bad = router.match("DELETE", "/tokens/%E0%A4%A");
    expect(bad.kind === "found" && bad.params["token"]).toBe("%E0%A4%A");
  });

  it("treats literal segments literally and refuses patterns it cannot read", () => {
    const r = new Router<number>().on("GET", "/rate_limit", 1).on("GET", "/a.b", 2);
    expect(r.match("GET", "/rate_limit").kind).toBe("found");
    expect(r.match("GET", "/aXb").kind).toBe("not-found");
    expect(() => compilePattern("no-slash")).toThrow(/must start with/);
    expect(() => compilePattern("/*rest/more")).toThrow(/last segment/);
    expect(() => compilePattern("/a:b")).toThrow(/cannot read segment/);
  });
});
