/**
 * The core's notes, said outward: one log line each (at the level the note deserves) and, for
 * observers (the demo, tests, the benchmark), a ControllerEvent.
 */
import type { CleanupReport, JobReport, Note } from "../core/model.js";
import { subnet } from "../domain/subnets.js";
import type { DestroyReason } from "../domain/types.js";
import type { Logger } from "../log.js";

export type ControllerEvent =
  | { type: "observed"; queued: number; at: number }
  | { type: "observe-failed"; code: string; message: string; at: number }
  | { type: "creating"; name: string; jobId: number; at: number }
  | { type: "created"; name: string; jobId: number | null; at: number }
  | { type: "create-failed"; name: string; message: string; at: number }
  | { type: "busy"; name: string; jobId: number | null; at: number }
  | { type: "destroying"; name: string; reason: DestroyReason; at: number }
  | {
      type: "destroyed";
      name: string;
      reason: DestroyReason;
      jobId: number | null;
      /** The finished job's report, for a container whose runner took one. */
      job: JobReport | null;
      at: number;
    }
  | { type: "state-unwritable"; message: string; at: number }
  | { type: "state-writable"; at: number }
  | { type: "runners-exit-idle"; count: number; at: number }
  | { type: "runners-work-again"; at: number }
  | { type: "pool-set"; minIdle: number; at: number }
  | { type: "cleanup-started"; at: number }
  | { type: "cleanup-finished"; complete: boolean; at: number; report: CleanupReport };

/** Log a note and turn it into the observers' event (null when observers do not hear of it). */
export function sayNote(note: Note, log: Logger, at: number): ControllerEvent | null {
  switch (note.type) {
    case "observed":
      return { type: "observed", queued: note.queued, at };
    case "observe-failed": {
      const fields = { code: note.code, error: note.message };
      if (note.repeated) log.debug("cannot observe GitHub; will retry", fields);
      else log.warn("cannot observe GitHub; will retry", fields);
      return { type: "observe-failed", code: note.code, message: note.message, at };
    }
    case "repositories-listed":
      log.debug("listed the organization's repositories", { count: note.count });
      return null;
    case "repositories-list-failed":
      log.warn("cannot list the organization's repositories; will retry", {
        code: note.code,
        error: note.message,
      });
      return null;
    case "creating":
      log.info("creating container", {
        container: note.name,
        job: note.jobId,
        subnet: subnet(note.subnet).cidr,
      });
      return { type: "creating", name: note.name, jobId: note.jobId, at };
    case "created":
      log.info("container started", { container: note.name, runner: note.runnerName });
      return { type: "created", name: note.name, jobId: note.jobId, at };
    case "create-failed":
      log.error("creating container failed", {
        container: note.name,
        error: note.message,
        retryInMs: note.retryInMs,
      });
      return { type: "create-failed", name: note.name, message: note.message, at };
    case "create-cancelled":
      log.info("container creation cancelled", { container: note.name });
      return null;
    case "busy":
      log.info("runner took a job", { container: note.name, job: note.jobId ?? undefined });
      return { type: "busy", name: note.name, jobId: note.jobId, at };
    case "kept-busy":
      log.info("runner took a job just before it was reaped; keeping it", { container: note.name });
      return { type: "busy", name: note.name, jobId: note.jobId, at };
    case "destroying":
      log.info("tearing down container", {
        container: note.name,
        reason: note.reason,
        job: note.jobId ?? undefined,
      });
      return { type: "destroying", name: note.name, reason: note.reason, at };
    case "destroyed":
      log.info("container destroyed", { container: note.name, reason: note.reason });
      if (note.job) {
        const j = note.job;
        log.info("job finished", {
          job: j.jobId ?? undefined,
          runner: j.runnerName,
          container: j.container,
          queueWaitS: seconds(j.queueWaitMs),
          startupS: seconds(j.startupMs),
          durationS: seconds(j.durationMs),
          cpuS: j.cpuSeconds === null ? undefined : Number(j.cpuSeconds.toFixed(3)),
          peakMemoryMB:
            j.peakMemoryBytes === null ? undefined : Number((j.peakMemoryBytes / 1048576).toFixed(1)),
          conclusion: j.conclusion ?? undefined,
          reason: j.reason,
        });
      }
      return {
        type: "destroyed",
        name: note.name,
        reason: note.reason,
        jobId: note.jobId,
        job: note.job,
        at,
      };
    case "destroy-failed":
      log.error("destroying container failed; will retry", {
        container: note.name,
        error: note.message,
        attempt: note.attempt,
        retryInMs: note.retryInMs,
      });
      return null;
    case "orphan":
      log.warn("destroying a container with no record (orphan)", { container: note.name });
      return null;
    case "ghost-removed":
      log.info("removed a leftover runner registration", { runner: note.runnerName });
      return null;
    case "deregister-failed":
      log.warn("deregistering runner failed; will retry", { runner: note.runnerName, error: note.message });
      return null;
    case "state-unwritable":
      if (note.first) {
        log.error("cannot save state; no containers are created until it works again", {
          code: note.code,
          error: note.message,
        });
      } else {
        log.debug("state still cannot be saved", { error: note.message });
      }
      return note.first ? { type: "state-unwritable", message: note.message, at } : null;
    case "state-writable":
      log.info("state can be saved again; creating containers resumes");
      return { type: "state-writable", at };
    case "runners-exit-idle":
      log.error(
        "runners keep ending without taking a job; creating containers is paused but for a probe now and then",
        {
          inARow: note.count,
          hint: "the runner version is probably too old (GitHub sends an update instead of the job): update the container's github-runner package (runnerJob.package) and restart",
        },
      );
      return { type: "runners-exit-idle", count: note.count, at };
    case "runners-work-again":
      log.info("a runner took a job again; creating containers resumes");
      return { type: "runners-work-again", at };
    case "backend-list-failed":
      log.warn("cannot list containers; will retry", { error: note.message });
      return null;
    case "pool-set":
      log.info("warm pool size set", { minIdle: note.minIdle, before: note.before });
      return { type: "pool-set", minIdle: note.minIdle, at };
    case "cleanup-started":
      log.warn("cleanup: destroying every container and deregistering its runner");
      return { type: "cleanup-started", at };
    case "cleanup-finished": {
      const r = note.report;
      log.warn("cleanup finished", {
        destroyed: r.containers.filter((c) => c.destroyed).length,
        left: r.containers.filter((c) => !c.destroyed).length,
        runnersLeft: r.runners.filter((x) => x.outcome !== "removed").length,
      });
      return { type: "cleanup-finished", complete: r.complete, at, report: r };
    }
  }
}

function seconds(ms: number | null): number | undefined {
  return ms === null ? undefined : Number((ms / 1000).toFixed(3));
}
