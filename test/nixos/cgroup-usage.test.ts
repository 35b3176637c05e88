/**
 * What a nixos-container used: read from its unit's cgroup (v2 and v1 layouts), sampled while it
 * runs, and still known once the guest has powered off and its cgroup is gone.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NixosContainerBackend } from "../../src/backend/nixos-container.js";
import { readCgroupUsage } from "../../src/backend/nixos/cgroup-usage.js";
import { systemClock } from "../../src/clock.js";
import { subnet } from "../../src/domain/subnets.js";
import { silentLogger } from "../../src/log.js";
import { makeFakeHost, until, type FakeHost } from "../fakes/fake-host.js";

// The fake host's fixed cgroup figures (test/fakes/fake-host.mjs, makeCgroup).
const FAKE_CPU_SECONDS = 2.5;
const FAKE_PEAK = 314_572_800;

describe("readCgroupUsage", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "rc-cgroup-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("reads cgroup v2's cpu.stat usage_usec and memory.peak", async () => {
    const unit = join(dir, "machine.slice/container@j0000001.service");
    await mkdir(unit, { recursive: true });
    await writeFile(join(unit, "cpu.stat"), "usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\n");
    await writeFile(join(unit, "memory.peak"), "52428800\n");
    expect(await readCgroupUsage(dir, "j0000001")).toEqual({
      cpuSeconds: 1.234567,
      peakMemoryBytes: 52428800,
    });
  });

  it("without memory.peak (Linux before 5.19) the peak is unknown, not zero", async () => {
    const unit = join(dir, "machine.slice/container@j0000001.service");
    await mkdir(unit, { recursive: true });
    await writeFile(join(unit, "cpu.stat"), "usage_usec 10\n");
    expect(await readCgroupUsage(dir, "j0000001")).toEqual({ cpuSeconds: 0.00001, peakMemoryBytes: null });
  });

  it("reads cgroup v1's cpuacct.usage (ns) and memory.max_usage_in_bytes", async () => {
    const cpu = join(dir, "cpuacct/machine.slice/container@j0000002.service");
    const mem = join(dir, "memory/machine.slice/container@j0000002.service");
    await mkdir(cpu, { recursive: true });
    await mkdir(mem, { recursive: true });
    await writeFile(join(cpu, "cpuacct.usage"), "3000000000\n");
    await writeFile(join(mem, "memory.max_usage_in_bytes"), "1048576\n");
    expect(await readCgroupUsage(dir, "j0000002")).toEqual({ cpuSeconds: 3, peakMemoryBytes: 1048576 });
  });

  it("is null for a unit with no cgroup", async () => {
    expect(await readCgroupUsage(dir, "j0000003")).toBeNull();
  });
});

describe("the nixos-container backend's usage", () => {
  let host: FakeHost;
  let backend: NixosContainerBackend;
  beforeEach(async () => {
    host = await makeFakeHost();
    backend = new NixosContainerBackend({
      log: silentLogger,
      clock: systemClock,
      source: { kind: "system", path: host.systemPath },
      ownedDir: join(host.root, "var/lib/runner-controller/nixos-containers"),
      limits: { cpuQuota: null, memoryMax: null, tasksMax: null },
      paths: host.paths,
      commandEnv: host.env,
      watchIntervalMs: 50,
      settlePollMs: 20,
    });
  });
  afterEach(async () => {
    await backend.close();
    await host.cleanup();
  });

  it("is read from container@NAME.service's cgroup, and kept once the guest powered off", async () => {
    const name = "j0000042";
    await backend.create(
      {
        name,
        runnerName: `ci-${name}`,
        labels: ["self-hosted"],
        subnet: subnet(142),
        secret: { kind: "jit", encodedJitConfig: "eyJ4IjoiYSJ9" },
      },
      new AbortController().signal,
    );
    expect(await backend.usage(name)).toEqual({ cpuSeconds: FAKE_CPU_SECONDS, peakMemoryBytes: FAKE_PEAK });
    const stopped: string[] = [];
    backend.onStopped((n) => stopped.push(n));
    await host.powerOff(name);
    await until(() => stopped.includes(name));
    expect(await readCgroupUsage(host.paths.cgroupRoot, name)).toBeNull();
    expect(await backend.usage(name)).toEqual({ cpuSeconds: FAKE_CPU_SECONDS, peakMemoryBytes: FAKE_PEAK });
    await backend.destroy(name);
    // Forgotten with the container: a later one of the same name starts from nothing.
    expect(await backend.usage(name)).toBeNull();
  });
});
