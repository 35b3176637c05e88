/**
 * The executor: runs the core's effects through the ports and turns every outcome into an event.
 * It decides nothing — not whether to retry, keep or give up; that is the core's — it only does
 * what it is told, in the order the loop requires (intent durable before a container starts).
 */
import type { Config } from "../config.js";
import type { CoreEvent, Effect } from "../core/model.js";
import { STATE_UNWRITABLE, waitsForSave } from "../core/results.js";
import { subnet } from "../domain/subnets.js";
import type { ControllerState } from "../domain/types.js";
import { ControllerError, describeError } from "../errors.js";
import type { Backend, GitHubPort, RunnerSecret } from "../ports.js";
import type { StateStore } from "../state/store.js";
import type { Redactor } from "../util/redact.js";
import { Semaphore } from "../util/semaphore.js";

export interface ExecutorDeps {
  readonly config: Config;
  readonly github: GitHubPort;
  readonly backend: Backend;
  readonly store: StateStore;
  readonly redactor: Redactor;
  /** Feed an effect's outcome back to the core. */
  readonly report: (event: CoreEvent) => void;
}

export class Executor {
  readonly #deps: ExecutorDeps;
  readonly #createSlots: Semaphore;
  /** Aborts for creates under way, by container name. */
  readonly #creates = new Map<string, AbortController>();
  /** Aborts every create when the daemon stops. */
  readonly #shutdown = new AbortController();
  readonly #running = new Set<Promise<void>>();

  constructor(deps: ExecutorDeps) {
    this.#deps = deps;
    this.#createSlots = new Semaphore(deps.config.createConcurrency);
  }

  /**
   * Run one decision's effects. A `persist` among them saves `snapshot` first; the effects the core
   * says need that save (`waitsForSave`) wait for it — except that a create registers its runner
   * meanwhile (a registration a crash orphans is offline and is swept as a ghost) and starts
   * nothing before its record is on disk. The others start at once. Effects run independently: one failing never stops the others. Resolves with whether
   * this decision's save (if it had one) worked.
   */
  run(effects: readonly Effect[], snapshot: () => ControllerState): Promise<boolean> {
    let durable: Promise<boolean> = Promise.resolve(true);
    for (const e of effects) {
      if (e.kind === "persist") durable = this.#track(this.#persist(snapshot())).then((ok) => ok);
    }
    for (const e of effects) {
      if (e.kind === "persist") continue;
      if (e.kind === "cancel-create") {
        this.#creates.get(e.name)?.abort();
        continue;
      }
      const task =
        e.kind === "create"
          ? this.#create(e, durable)
          : waitsForSave(e)
            ? durable.then(() => this.#perform(e))
            : this.#perform(e);
      void this.#track(task);
    }
    return durable;
  }

  /** Resolves when nothing is under way. */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  /** Cancel every create under way (shutdown after the grace period). */
  abortCreates(): void {
    this.#shutdown.abort();
  }

  #track<T>(p: Promise<T>): Promise<T> {
    const done = p.then(
      () => {},
      () => {},
    );
    this.#running.add(done);
    void done.finally(() => this.#running.delete(done));
    return p;
  }

  async #persist(state: ControllerState): Promise<boolean> {
    try {
      await this.#deps.store.save(state);
      this.#deps.report({ type: "persisted" });
      return true;
    } catch (e) {
      this.#deps.report({ type: "persist-failed", code: STATE_UNWRITABLE, message: describeError(e) });
      return false;
    }
  }

  async #perform(e: Exclude<Effect, { kind: "create" | "persist" | "cancel-create" }>): Promise<void> {
    const { github, backend, report } = this.#deps;
    switch (e.kind) {
      case "observe-github":
        try {
          report({ type: "github-observed", view: await github.observe(e.repositories) });
        } catch (err) {
          const code = err instanceof ControllerError ? err.code : "RC_GITHUB_UNAVAILABLE";
          report({ type: "github-failed", code, message: describeError(err) });
        }
        return;
      case "list-repositories":
        try {
          const listed = await github.listRepositories();
          report({ type: "repositories-listed", ...listed });
        } catch (err) {
          const code = err instanceof ControllerError ? err.code : "RC_GITHUB_UNAVAILABLE";
          report({ type: "repositories-list-failed", code, message: describeError(err) });
        }
        return;
      case "list-backend":
        try {
          report({ type: "backend-listed", containers: await backend.list() });
        } catch (err) {
          report({ type: "backend-list-failed", message: describeError(err) });
        }
        return;
      case "list-runners":
        try {
          const runners = await github.listRunners();
          report({ type: "runners-listed", runners: runners.map((r) => ({ id: r.id, name: r.name })) });
        } catch (err) {
          report({ type: "runners-list-failed", message: describeError(err) });
        }
        return;
      case "destroy":
        try {
          // What it used is read first: once destroyed, its cgroup or process tree is gone.
          const usage = backend.usage ? await backend.usage(e.name).catch(() => null) : null;
          await backend.destroy(e.name);
          report({ type: "destroyed", name: e.name, usage });
        } catch (err) {
          report({ type: "destroy-failed", name: e.name, message: describeError(err) });
        }
        return;
      case "deregister":
        try {
          const outcome = await github.deleteRunner({ runnerId: e.runnerId, runnerName: e.runnerName });
          report({ type: "deregistered", runnerName: e.runnerName, outcome });
        } catch (err) {
          report({ type: "deregister-failed", runnerName: e.runnerName, message: describeError(err) });
        }
        return;
    }
  }

  async #create(e: Extract<Effect, { kind: "create" }>, durable: Promise<boolean>): Promise<void> {
    const { config, github, backend, report, redactor } = this.#deps;
    const abort = new AbortController();
    this.#creates.set(e.name, abort);
    const signal = AbortSignal.any([abort.signal, this.#shutdown.signal]);
    const release = await this.#createSlots.acquire();
    let secret: RunnerSecret | undefined;
    try {
      if (signal.aborted) throw new ControllerError("RC_BACKEND_FAILED", "cancelled before it started");
      report({ type: "create-started", name: e.name });
      if (config.registration === "jit") {
        const jit = await github.createJitRunner(e.runnerName, config.runnerLabels);
        secret = { kind: "jit", encodedJitConfig: jit.encodedJitConfig };
        report({ type: "runner-registered", name: e.name, runnerId: jit.runnerId });
      } else {
        const t = await github.createRegistrationToken();
        secret = {
          kind: "token",
          token: t.token,
          url: github.registrationUrl,
          runnerName: e.runnerName,
          labels: config.runnerLabels,
        };
      }
      if (!(await untilCancelled(durable, signal))) {
        throw new ControllerError(STATE_UNWRITABLE, "the intent to create it could not be saved");
      }
      if (signal.aborted) throw new ControllerError("RC_BACKEND_FAILED", "cancelled");
      // A backend that does not honour the cancellation must not hold the create for ever: a
      // container it starts after all has no record, and the next listing removes it as an orphan.
      await untilCancelled(
        backend.create(
          {
            name: e.name,
            runnerName: e.runnerName,
            labels: config.runnerLabels,
            subnet: subnet(e.subnet),
            secret,
          },
          signal,
        ),
        signal,
      );
      report({ type: "created", name: e.name });
    } catch (err) {
      const code = err instanceof ControllerError ? err.code : "RC_BACKEND_FAILED";
      report({ type: "create-failed", name: e.name, code, message: describeError(err) });
    } finally {
      // The runner has its config now (or never will): it no longer needs guarding in our logs.
      if (secret?.kind === "jit") redactor.remove(secret.encodedJitConfig);
      this.#creates.delete(e.name);
      release();
    }
  }
}

/**
 * `p`, or a rejection once `signal` aborts — a step later than its abort, so that a `p` which
 * answers the abort at once is the one heard (whatever `p` does afterwards is ignored).
 */
function untilCancelled<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    p.catch(() => {});
    return Promise.reject(new ControllerError("RC_BACKEND_FAILED", "cancelled"));
  }
  return new Promise<T>((resolve, reject) => {
    // A backend that honours the signal says why itself (its answer comes a step sooner).
    const onAbort = (): void =>
      void Promise.resolve()
        .then(() => undefined)
        .then(() => reject(new ControllerError("RC_BACKEND_FAILED", "cancelled")));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
