/**
 * The contract every Backend adapter must honour. Each adapter's test file calls
 * `describeBackendContract` with a harness that knows how to drive that adapter's world.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { subnet } from "../../src/domain/subnets.js";
import type { Backend, CreateSpec } from "../../src/ports.js";

export interface BackendHarness {
  /** A backend that works. */
  readonly backend: Backend;
  /** A backend whose create fails (e.g. the tool or command is missing). */
  failingBackend(): Backend;
  /** Make the runner in container `name` finish, as if its job ended. */
  finish(name: string): Promise<void>;
  /** The JIT config the runner in `name` received, or null. */
  secretSeen(name: string): Promise<string | null>;
  /** Put something in the backend's world that is not ours (another container). */
  addForeign(name: string): Promise<void>;
  cleanup(): Promise<void>;
}

export function spec(name: string, secret = `jit-secret-for-${name}-0123456789`): CreateSpec {
  return {
    name,
    runnerName: `test-${name}`,
    labels: ["self-hosted", "nix"],
    subnet: subnet(100 + ((Number(name.slice(-3)) || 0) % 100)),
    secret: { kind: "jit", encodedJitConfig: secret },
  };
}

async function eventually(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("condition not met in time");
}

export function describeBackendContract(label: string, makeHarness: () => Promise<BackendHarness>): void {
  describe(`Backend contract: ${label}`, () => {
    let h: BackendHarness;
    beforeEach(async () => {
      h = await makeHarness();
    });
    afterEach(async () => {
      await h.cleanup();
    });

    it("lists nothing before anything is created", async () => {
      expect([...(await h.backend.list()).keys()]).toEqual([]);
    });

    it("create makes a running container under exactly the given name, and the runner gets its secret", async () => {
      await h.backend.create(spec("j0000001"), new AbortController().signal);
      const list = await h.backend.list();
      expect([...list.entries()]).toEqual([["j0000001", "running"]]);
      await eventually(async () => (await h.secretSeen("j0000001")) !== null);
      expect(await h.secretSeen("j0000001")).toBe("jit-secret-for-j0000001-0123456789");
    });

    it("keeps several containers apart", async () => {
      await h.backend.create(spec("j0000001"), new AbortController().signal);
      await h.backend.create(spec("j0000002", "another-secret-value-xyz"), new AbortController().signal);
      const list = await h.backend.list();
      expect([...list.keys()].sort()).toEqual(["j0000001", "j0000002"]);
      await eventually(async () => (await h.secretSeen("j0000002")) !== null);
      expect(await h.secretSeen("j0000002")).toBe("another-secret-value-xyz");
    });

    it("reports a container whose runner finished as stopped, and tells its listener", async () => {
      const stopped: string[] = [];
      h.backend.onStopped((n) => stopped.push(n));
      await h.backend.create(spec("j0000003"), new AbortController().signal);
      await h.finish("j0000003");
      await eventually(async () => (await h.backend.list()).get("j0000003") === "stopped");
      await eventually(() => Promise.resolve(stopped.includes("j0000003")));
    });

    it("destroy removes the container; destroying again, or something that never existed, is fine", async () => {
      await h.backend.create(spec("j0000004"), new AbortController().signal);
      await h.backend.destroy("j0000004");
      expect((await h.backend.list()).has("j0000004")).toBe(false);
      await h.backend.destroy("j0000004");
      await h.backend.destroy("j0000099");
      expect([...(await h.backend.list()).keys()]).toEqual([]);
    });

    it("destroy works on a container whose runner already finished", async () => {
      await h.backend.create(spec("j0000005"), new AbortController().signal);
      await h.finish("j0000005");
      await eventually(async () => (await h.backend.list()).get("j0000005") === "stopped");
      await h.backend.destroy("j0000005");
      expect((await h.backend.list()).has("j0000005")).toBe(false);
    });

    it("lists only its own containers", async () => {
      await h.addForeign("webserver");
      await h.backend.create(spec("j0000006"), new AbortController().signal);
      expect([...(await h.backend.list()).keys()]).toEqual(["j0000006"]);
    });

    it("a failed create throws and leaves nothing behind", async () => {
      const failing = h.failingBackend();
      await expect(failing.create(spec("j0000007"), new AbortController().signal)).rejects.toThrow();
      expect((await failing.list()).has("j0000007")).toBe(false);
      await failing.close();
    });

    it("a create cancelled before it starts throws and leaves nothing behind", async () => {
      const ac = new AbortController();
      ac.abort();
      await expect(h.backend.create(spec("j0000008"), ac.signal)).rejects.toThrow();
      expect((await h.backend.list()).has("j0000008")).toBe(false);
    });

    it("refuses names that are not ours", async () => {
      await expect(h.backend.create(spec("../etc"), new AbortController().signal)).rejects.toThrow();
      await expect(h.backend.destroy("x; rm -rf /")).rejects.toThrow();
    });
  });
}
