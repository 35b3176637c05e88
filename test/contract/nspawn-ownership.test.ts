/**
 * The nspawn backend next to another instance on the same host: a container name whose veth link
 * exists without a directory of ours is another instance's; create refuses it and leaves the link.
 * Needs root (a veth pair stands in for the other instance's container); skipped otherwise.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { NspawnBackend } from "../../src/backend/nspawn.js";
import { systemClock } from "../../src/clock.js";
import { subnet } from "../../src/domain/subnets.js";
import { ControllerError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";

const NAME = "j0000777";
const LINK = `ve-${NAME}`;

function ip(...args: string[]): boolean {
  return spawnSync("ip", args, { encoding: "utf8" }).status === 0;
}

// Whether this machine lets us make a veth pair (root with CAP_NET_ADMIN).
const canLink = ip("link", "add", "ve-rcprobe", "type", "veth", "peer", "name", "vp-rcprobe");
if (canLink) ip("link", "delete", "ve-rcprobe");

describe.skipIf(!canLink)("nspawn backend: another instance's container of the same name", () => {
  let dir = "";
  afterEach(async () => {
    ip("link", "delete", LINK);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("is refused, and its link is left alone", async () => {
    dir = await mkdtemp(join(tmpdir(), "rc-nspawn-owner-"));
    expect(ip("link", "add", LINK, "type", "veth", "peer", "name", `vp-${NAME}`)).toBe(true);
    const backend = new NspawnBackend({
      root: join(dir, "nspawn"),
      nspawn: { root: "/", volatile: "yes", bindRo: [], boot: false, network: "veth" },
      runnerCommand: "/bin/true",
      limits: { cpuQuota: null, memoryMax: null, tasksMax: null },
      log: silentLogger,
      clock: systemClock,
    });
    const err = await backend
      .create(
        {
          name: NAME,
          runnerName: `ci-${NAME}`,
          labels: ["self-hosted"],
          subnet: subnet(177),
          secret: { kind: "jit", encodedJitConfig: "e30=" },
        },
        new AbortController().signal,
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ControllerError);
    expect((err as ControllerError).message).toMatch(/not this controller's/);
    expect(existsSync(`/sys/class/net/${LINK}`)).toBe(true);
    expect(existsSync(join(dir, "nspawn", NAME))).toBe(false);
    expect([...(await backend.list()).keys()]).toEqual([]);
    await backend.close();
  });
});

if (!canLink)
  describe("nspawn backend: another instance's container of the same name", () => {
    it.skipIf(true)("skipped: making a veth pair needs root", () => {});
  });
