/**
 * The simulator's webhooks: every job change in the model (waiting, queued, taken by a runner,
 * completed) becomes a signed `workflow_job` delivery to each configured URL, with GitHub's
 * headers. Deliveries to one URL go out one at a time, in order, unless a scripted fault says
 * otherwise: drop one, send it twice, hold it back until the next one has gone (reorder), send
 * it late, or sign it with the wrong secret. Every delivery attempt is recorded.
 *
 * Programmatic API (the simulator's HTTP control routes can wrap it): `attachSimWebhooks(model, …)`
 * → `addTarget`, `addFault`, `clearFaults`, `deliveries`, `idle()`, `detach()`.
 */
import { createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { OWNER_ID, type RepoRef } from "../fixtures.js";
import type { SimEvent, SimJob, SimModel } from "../model.js";
import { workflowJobPayload, type SimWebhookAction } from "./payload.js";

export type SimWebhookFault = "drop" | "duplicate" | "reorder" | "delay" | "bad-signature";

export interface SimWebhookFaultRule {
  readonly fault: SimWebhookFault;
  /** Only deliveries of this action (default any). */
  readonly action?: SimWebhookAction;
  /** Only deliveries about this job (default any). */
  readonly jobId?: number;
  /** Only deliveries to this URL (default every target). */
  readonly url?: string;
  /** For "delay": how late. Default 1000 ms. */
  readonly delayMs?: number;
  /** Apply to this many matching deliveries (default: all). */
  readonly times?: number;
  /** Let this many matching deliveries through first. */
  readonly after?: number;
}

export interface SimWebhookTarget {
  readonly url: string;
  /**
   * Where the hook is: "repository" (default) gets the jobs of the options' `ref` repository only;
   * "organization" gets the jobs of every repository of the owner.
   */
  readonly scope?: "repository" | "organization";
  /** The secret to sign with, or a file whose first non-blank line is read at every delivery. */
  readonly secret?: string;
  readonly secretFile?: string;
}

export interface SimWebhookDelivery {
  readonly deliveryId: string;
  readonly url: string;
  readonly action: SimWebhookAction;
  readonly jobId: number;
  /** The faults applied to this delivery. */
  readonly faults: readonly SimWebhookFault[];
  /** 1, or 2 for the copy a "duplicate" fault sends. */
  readonly copy: number;
  /** When the request went out (ms, the model's clock); null if it never did (dropped). */
  sentAt: number | null;
  /** The receiver's HTTP status; null while in flight, when dropped, or when the request failed. */
  status: number | null;
  error: string | null;
}

export interface SimWebhooksOptions {
  /** The base URL, and the repository of "repository" hooks. */
  readonly ref: RepoRef;
  /** The App's installation id, sent in each payload (`installation: {id}`) when given. */
  readonly installationId?: number;
  readonly targets?: readonly SimWebhookTarget[];
  readonly faults?: readonly SimWebhookFaultRule[];
  /** A receiver that does not answer within this long is given up on. Default 10 s (GitHub's). */
  readonly timeoutMs?: number;
  readonly hookId?: number;
}

interface ActiveRule extends SimWebhookFaultRule {
  seen: number;
  applied: number;
}

interface Outgoing {
  readonly deliveryId: string;
  readonly action: SimWebhookAction;
  readonly jobId: number;
  readonly body: string;
}

interface TargetState {
  readonly target: SimWebhookTarget;
  /** The tail of this target's in-order queue. */
  chain: Promise<void>;
  /** Deliveries a "reorder" fault holds back: each goes out right after the next one to this target. */
  held: (() => Promise<void>)[];
}

const EVENT_ACTIONS: Partial<Record<SimEvent["type"], SimWebhookAction>> = {
  "job-waiting": "waiting",
  "job-queued": "queued",
  "job-assigned": "in_progress",
  "job-completed": "completed",
};

export class SimWebhooks {
  /** Every delivery attempt, oldest first. */
  readonly deliveries: SimWebhookDelivery[] = [];
  readonly #model: SimModel;
  readonly #options: SimWebhooksOptions;
  readonly #targets: TargetState[] = [];
  #rules: ActiveRule[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  readonly #listener = (e: SimEvent): void => {
    const action = EVENT_ACTIONS[e.type];
    if (action && "job" in e) this.deliver(e.job, action);
  };

  constructor(model: SimModel, options: SimWebhooksOptions) {
    this.#model = model;
    this.#options = options;
    for (const t of options.targets ?? []) this.addTarget(t);
    for (const f of options.faults ?? []) this.addFault(f);
    model.on("event", this.#listener);
  }

  addTarget(target: SimWebhookTarget): void {
    if (target.secret === undefined && target.secretFile === undefined)
      throw new Error(`webhook target ${target.url} needs a secret or a secret file`);
    this.#targets.push({ target, chain: Promise.resolve(), held: [] });
  }

  addFault(rule: SimWebhookFaultRule): void {
    this.#rules.push({ ...rule, seen: 0, applied: 0 });
  }

  clearFaults(): void {
    this.#rules = [];
  }

  /** Stop listening to the model (deliveries under way still finish). */
  detach(): void {
    this.#model.off("event", this.#listener);
  }

  /** Send `action` about `job` as it stands now to every target (the model's events call this). */
  deliver(job: SimJob, action: SimWebhookAction): void {
    // Built now: the job changes on, the payload must say what was true when the event happened.
    const { ref, installationId } = this.#options;
    const body = JSON.stringify(workflowJobPayload(ref, this.#model, job, action, installationId));
    const repository = this.#model.runs.get(job.runId)?.repository;
    for (const state of this.#targets) {
      if ((state.target.scope ?? "repository") === "repository" && repository !== `${ref.owner}/${ref.repo}`)
        continue;
      this.#dispatch(state, { deliveryId: randomUUID(), action, jobId: job.id, body });
    }
  }

  /** Resolves when nothing is in flight, queued or delayed; deliveries still held back for reordering go first. */
  async idle(): Promise<void> {
    for (;;) {
      for (const state of this.#targets) this.#releaseHeld(state);
      if (this.#inFlight.size === 0) return;
      await Promise.allSettled([...this.#inFlight]);
    }
  }

  #faultsFor(url: string, out: Outgoing): SimWebhookFaultRule[] {
    const applied: SimWebhookFaultRule[] = [];
    for (const rule of this.#rules) {
      if (rule.action !== undefined && rule.action !== out.action) continue;
      if (rule.jobId !== undefined && rule.jobId !== out.jobId) continue;
      if (rule.url !== undefined && rule.url !== url) continue;
      rule.seen++;
      if (rule.seen <= (rule.after ?? 0)) continue;
      if (rule.times !== undefined && rule.applied >= rule.times) continue;
      rule.applied++;
      applied.push(rule);
    }
    return applied;
  }

  #dispatch(state: TargetState, out: Outgoing): void {
    const rules = this.#faultsFor(state.target.url, out);
    const faults = rules.map((r) => r.fault);
    const record = (copy: number): SimWebhookDelivery => {
      const r: SimWebhookDelivery = {
        deliveryId: out.deliveryId,
        url: state.target.url,
        action: out.action,
        jobId: out.jobId,
        faults,
        copy,
        sentAt: null,
        status: null,
        error: null,
      };
      this.deliveries.push(r);
      return r;
    };
    if (faults.includes("drop")) {
      record(1);
      return;
    }
    const badSignature = faults.includes("bad-signature");
    const copies = faults.includes("duplicate") ? [1, 2] : [1];
    const sendAll = async (): Promise<void> => {
      for (const copy of copies) await this.#send(state.target, out, record(copy), badSignature);
    };
    const delay = rules.find((r) => r.fault === "delay");
    if (delay) {
      // Out of the queue: the ones after it overtake it.
      this.#track(sleep(delay.delayMs ?? 1000).then(sendAll));
      return;
    }
    if (faults.includes("reorder")) {
      state.held.push(sendAll);
      return;
    }
    const overtaken = state.held.splice(0);
    this.#track(
      this.#enqueue(state, async () => {
        await sendAll();
        for (const send of overtaken) await send();
      }),
    );
  }

  #enqueue(state: TargetState, send: () => Promise<void>): Promise<void> {
    const next = state.chain.then(send);
    state.chain = next;
    return next;
  }

  #releaseHeld(state: TargetState): void {
    for (const send of state.held.splice(0)) this.#track(this.#enqueue(state, send));
  }

  #track(p: Promise<void>): void {
    const tracked = p.catch(() => {});
    this.#inFlight.add(tracked);
    void tracked.then(() => this.#inFlight.delete(tracked));
  }

  /** GitHub's headers naming what the hook is installed on. */
  #hookTarget(target: SimWebhookTarget): Record<string, string> {
    if (target.scope === "organization")
      return {
        "x-github-hook-installation-target-type": "organization",
        "x-github-hook-installation-target-id": String(OWNER_ID),
      };
    const { ref } = this.#options;
    const id = this.#model.repository(`${ref.owner}/${ref.repo}`)?.id ?? ref.id ?? 1296269;
    return {
      "x-github-hook-installation-target-type": "repository",
      "x-github-hook-installation-target-id": String(id),
    };
  }

  async #send(
    target: SimWebhookTarget,
    out: Outgoing,
    record: SimWebhookDelivery,
    badSignature: boolean,
  ): Promise<void> {
    try {
      const secret = secretOf(target) + (badSignature ? "-but-wrong" : "");
      record.sentAt = this.#model.now();
      const res = await fetch(target.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "GitHub-Hookshot/sim",
          "x-github-event": "workflow_job",
          "x-github-delivery": out.deliveryId,
          "x-github-hook-id": String(this.#options.hookId ?? 424242),
          ...this.#hookTarget(target),
          "x-hub-signature": `sha1=${createHmac("sha1", secret).update(out.body).digest("hex")}`,
          "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(out.body).digest("hex")}`,
        },
        body: out.body,
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 10_000),
      });
      await res.arrayBuffer();
      record.status = res.status;
    } catch (e) {
      record.error = (e as Error).message;
    }
  }
}

function secretOf(target: SimWebhookTarget): string {
  if (target.secret !== undefined) return target.secret;
  const first = readFileSync(target.secretFile!, "utf8")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l.length > 0);
  if (first === undefined) throw new Error(`webhook secret file ${target.secretFile} holds no secret`);
  return first;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Deliver the model's job changes as webhooks; see SimWebhooks. */
export function attachSimWebhooks(model: SimModel, options: SimWebhooksOptions): SimWebhooks {
  return new SimWebhooks(model, options);
}
