/**
 * A `workflow_job` webhook payload, checked field by field and cut down to what the core needs.
 * Everything in it comes from the network: wrong types, out-of-range numbers, oversized lists,
 * control characters and unparsable dates make the delivery malformed (answered 400); an action
 * GitHub may add in future is ignored (answered 200). Pure: no I/O, no clock.
 */

export const WORKFLOW_JOB_ACTIONS = ["queued", "in_progress", "completed", "waiting"] as const;
export type WorkflowJobAction = (typeof WORKFLOW_JOB_ACTIONS)[number];

export interface WorkflowJobFacts {
  readonly id: number;
  readonly runId: number;
  readonly name: string;
  readonly labels: readonly string[];
  readonly status: WorkflowJobAction;
  /** null until a runner has the job. */
  readonly runnerName: string | null;
  /** null until the job completes. */
  readonly conclusion: string | null;
  /** When GitHub created the job, ms since the epoch (started_at, then receipt, on old payloads without it). */
  readonly createdAt: number;
  /** "owner/name" of the repository the job runs in. */
  readonly repository: string;
}

export interface WorkflowJobDelivery {
  /** X-GitHub-Delivery: the same for a redelivery of the same event. */
  readonly deliveryId: string;
  readonly action: WorkflowJobAction;
  /** When the listener had the whole body, on the injected clock (ms). */
  readonly receivedAt: number;
  readonly job: WorkflowJobFacts;
}

export type ParsedWorkflowJob =
  | { readonly kind: "accepted"; readonly delivery: WorkflowJobDelivery }
  | { readonly kind: "ignored"; readonly reason: string }
  | { readonly kind: "malformed"; readonly reason: string };

/** Bounds well above anything GitHub sends, well below anything that could hurt. */
export const PAYLOAD_LIMITS = {
  nameLength: 1024,
  labelCount: 64,
  labelLength: 256,
  runnerNameLength: 256,
  repositoryLength: 201,
  conclusionLength: 64,
  dateLength: 64,
} as const;

class Malformed extends Error {}

// C0/C1 control characters and the Unicode line/paragraph separators: never in a label or name.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const REPOSITORY = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;

function record(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new Malformed(`${what} is not an object`);
  return v as Record<string, unknown>;
}

function positiveId(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0)
    throw new Malformed(`${what} is not a positive integer`);
  return v;
}

function text(v: unknown, what: string, maxLength: number): string {
  if (typeof v !== "string") throw new Malformed(`${what} is not a string`);
  if (v.length === 0 || v.length > maxLength)
    throw new Malformed(`${what} is empty or longer than ${maxLength}`);
  if (CONTROL.test(v)) throw new Malformed(`${what} holds control characters`);
  return v;
}

function optionalText(v: unknown, what: string, maxLength: number): string | null {
  return v === null || v === undefined ? null : text(v, what, maxLength);
}

function timestamp(v: unknown, what: string): number | null {
  if (v === null || v === undefined) return null;
  const s = text(v, what, PAYLOAD_LIMITS.dateLength);
  // ISO 8601 as GitHub writes it: 2021-06-15T19:22:27Z, with optional fraction or offset.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/.test(s))
    throw new Malformed(`${what} is not an ISO 8601 time`);
  const ms = Date.parse(s);
  if (!Number.isFinite(ms)) throw new Malformed(`${what} is not a valid time`);
  return ms;
}

function labels(v: unknown): string[] {
  if (!Array.isArray(v)) throw new Malformed("workflow_job.labels is not a list");
  if (v.length > PAYLOAD_LIMITS.labelCount)
    throw new Malformed(`workflow_job.labels has more than ${PAYLOAD_LIMITS.labelCount} entries`);
  return v.map((l, i) => text(l, `workflow_job.labels[${i}]`, PAYLOAD_LIMITS.labelLength));
}

function isAction(v: string): v is WorkflowJobAction {
  return (WORKFLOW_JOB_ACTIONS as readonly string[]).includes(v);
}

/** Checks a parsed `workflow_job` payload; `receivedAt` dates deliveries and stands in for a missing created_at. */
export function parseWorkflowJobPayload(
  payload: unknown,
  deliveryId: string,
  receivedAt: number,
): ParsedWorkflowJob {
  try {
    const body = record(payload, "the payload");
    const action = body["action"];
    if (typeof action !== "string") throw new Malformed("action is not a string");
    if (!isAction(action)) return { kind: "ignored", reason: "an action we do not use" };
    const job = record(body["workflow_job"], "workflow_job");
    const repository = record(body["repository"], "repository");
    const fullName = text(repository["full_name"], "repository.full_name", PAYLOAD_LIMITS.repositoryLength);
    if (!REPOSITORY.test(fullName)) throw new Malformed("repository.full_name is not owner/name");
    const status = text(job["status"], "workflow_job.status", 32);
    if (!isAction(status)) throw new Malformed("workflow_job.status is not a job status");
    const createdAt =
      timestamp(job["created_at"], "workflow_job.created_at") ??
      timestamp(job["started_at"], "workflow_job.started_at") ??
      receivedAt;
    return {
      kind: "accepted",
      delivery: {
        deliveryId,
        action,
        receivedAt,
        job: {
          id: positiveId(job["id"], "workflow_job.id"),
          runId: positiveId(job["run_id"], "workflow_job.run_id"),
          name: text(job["name"], "workflow_job.name", PAYLOAD_LIMITS.nameLength),
          labels: labels(job["labels"]),
          status,
          runnerName: optionalText(
            job["runner_name"],
            "workflow_job.runner_name",
            PAYLOAD_LIMITS.runnerNameLength,
          ),
          conclusion: optionalText(
            job["conclusion"],
            "workflow_job.conclusion",
            PAYLOAD_LIMITS.conclusionLength,
          ),
          createdAt,
          repository: fullName,
        },
      },
    };
  } catch (e) {
    if (e instanceof Malformed) return { kind: "malformed", reason: e.message };
    throw e;
  }
}
