/**
 * Tearing a nixos-container container down, every step safe to repeat after a crash at any point:
 * stop the unit and wait until it is at rest (destroying while it is still starting deletes the
 * root under a running nspawn; a unit that will not stop is SIGKILLed, then stopped again:
 * Restart=on-failure restarts it) → `nixos-container destroy` → `systemctl reset-failed` →
 * remove the set-property drop-ins, the .nspawn file, the secret, a leftover ve-NAME link and
 * dangling journal links. Problems along the way are collected; the teardown is retried whole.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { ControllerError, describeError } from "../../errors.js";
import { describeFailure, ok, type ExecResult } from "../../exec/exec.js";
import type { Logger } from "../../log.js";
import { classifyFailure } from "./classify.js";
import {
  confPath,
  dropInDirs,
  exists,
  nspawnPath,
  removeDanglingJournalLinks,
  removeGuestSecret,
  rootPath,
  type HostPaths,
} from "./host-files.js";
import type { ContainerCommandError, NixosTimeouts } from "./options.js";
import { containerUnit, isAtRest } from "./units.js";

/** What the teardown needs from the backend: its paths, timeouts and command helpers. */
export interface TeardownTools {
  readonly paths: HostPaths;
  readonly timeouts: NixosTimeouts;
  run(file: string, args: readonly string[], timeoutMs: number): Promise<ExecResult>;
  fail(r: ExecResult, what: string): ContainerCommandError;
  unitState(): Promise<string | undefined>;
  settle(ms: number): Promise<string | undefined>;
}

export async function teardownContainer(tools: TeardownTools, name: string, log: Logger): Promise<void> {
  const unit = containerUnit(name);
  const conf = confPath(tools.paths, name);
  const root = rootPath(tools.paths, name);
  const problems: string[] = [];
  const step = async (what: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (e) {
      problems.push(`${what}: ${describeError(e)}`);
    }
  };

  // 1. Stop the unit and wait until it is at rest. `destroy` only terminates an *active*
  //    container: one still starting would lose its root under a running nspawn. If it does
  //    not stop, SIGKILL it — and stop it once more, since the kill restarts it.
  let state = await tools.unitState();
  if (!isAtRest(state)) {
    const stopped = await tools.run("systemctl", ["stop", unit], tools.timeouts.stop);
    if (!ok(stopped))
      log.warn("systemctl stop failed; waiting for the unit anyway", { error: describeFailure(stopped) });
    state = await tools.settle(tools.timeouts.settle);
    if (!isAtRest(state)) {
      const killed = await tools.run("systemctl", ["kill", "--signal=SIGKILL", unit], tools.timeouts.command);
      if (!ok(killed)) log.warn("systemctl kill failed", { error: describeFailure(killed) });
      // container@ has Restart=on-failure: a SIGKILL outside a stop job makes systemd start it
      // again (activating). Stopping it now cancels that restart, or stops what it started.
      const again = await tools.run("systemctl", ["stop", unit], tools.timeouts.stop);
      if (!ok(again)) log.warn("systemctl stop after the kill failed", { error: describeFailure(again) });
      state = await tools.settle(tools.timeouts.settle);
    }
    if (!isAtRest(state)) {
      throw new ControllerError(
        "RC_BACKEND_FAILED",
        `${unit} is still ${state ?? "in an unknown state"} after stop and SIGKILL; not destroying a container that may still run`,
        { hint: `see systemctl status ${unit}; destroying it is retried` },
      );
    }
  }

  // 2. Destroy. Without a NAME.conf, nixos-container would exit 0 and do nothing.
  if (await exists(conf)) {
    const destroyed = await tools.run("nixos-container", ["destroy", name], tools.timeouts.destroy);
    if (!ok(destroyed)) {
      const err = tools.fail(destroyed, `nixos-container destroy ${name} failed`);
      if (err.failure === "declarative") throw err;
      if (err.failure !== "does-not-exist") problems.push(err.message);
    }
  }

  // 3. A failed instance stays listed by systemd until reset.
  if (state === "failed") {
    const reset = await tools.run("systemctl", ["reset-failed", unit], tools.timeouts.command);
    if (!ok(reset) && classifyFailure(reset.stderr) !== "unit-not-loaded") {
      problems.push(tools.fail(reset, `systemctl reset-failed ${unit} failed`).message);
    }
  }

  // 4. Drop-ins: ours from set-property --runtime, and any other runtime one for this name
  //    (that kind only takes effect after a daemon-reload, so its removal needs one too).
  const drop = dropInDirs(tools.paths, name);
  await step("removing the limits drop-in", () => rm(drop.control, { recursive: true, force: true }));
  if (await exists(drop.runtime)) {
    await step("removing a runtime drop-in", async () => {
      await rm(drop.runtime, { recursive: true, force: true });
      const reloaded = await tools.run("systemctl", ["daemon-reload"], tools.timeouts.command);
      if (!ok(reloaded)) throw tools.fail(reloaded, "systemctl daemon-reload failed");
    });
  }

  // 5. The nspawn settings file.
  await step("removing the .nspawn file", () => rm(nspawnPath(tools.paths, name), { force: true }));

  // 6. The secret, in case the root outlived destroy.
  await step("removing the runner secret", () => removeGuestSecret(root));

  // 7. A host-side veth left behind.
  const link = `ve-${name}`;
  if (await exists(join(tools.paths.sysClassNet, link))) {
    const deleted = await tools.run("ip", ["link", "delete", link], tools.timeouts.command);
    if (!ok(deleted) && classifyFailure(deleted.stderr) !== "no-such-device") {
      problems.push(tools.fail(deleted, `ip link delete ${link} failed`).message);
    }
  }

  // 8. Journal links into the removed root.
  await step("removing dangling journal links", async () => {
    const n = await removeDanglingJournalLinks(tools.paths.journalDir, root);
    if (n > 0) log.debug("removed dangling journal links", { count: n });
  });

  if (await exists(conf)) problems.push(`${conf} is still there`);
  if (await exists(root)) {
    problems.push(
      `${root} is still there (nixos-container destroy needs chattr from e2fsprogs on PATH to remove a root; by hand: chattr -i ${root}/var/empty && rm -rf ${root})`,
    );
  }
  if (problems.length > 0) {
    throw new ControllerError(
      "RC_BACKEND_FAILED",
      `destroying ${name} is incomplete: ${problems.join("; ")}`,
      {
        hint: "it is retried; every step is safe to repeat",
      },
    );
  }
  log.debug("container destroyed");
}

/** The first trace of an earlier container of this name (a crash mid-create or mid-teardown), or null. */
export async function findLeftovers(paths: HostPaths, name: string): Promise<string | null> {
  const drop = dropInDirs(paths, name);
  const traces = [
    confPath(paths, name),
    rootPath(paths, name),
    nspawnPath(paths, name),
    drop.control,
    drop.runtime,
  ];
  for (const t of traces) if (await exists(t)) return t;
  return null;
}
