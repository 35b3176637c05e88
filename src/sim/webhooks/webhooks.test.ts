/**
 * The simulator's webhooks: payloads valid against @octokit/webhooks-schemas and shaped like
 * @octokit/webhooks-examples, correctly signed, in order — and each scripted fault (drop,
 * duplicate, reorder, delay, wrong signature) visible to a receiver. Last, the simulator
 * against the daemon's real webhook listener.
 */
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { verify } from "@octokit/webhooks-methods";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../../clock.js";
import { createWebhookServer } from "../../http/webhook.js";
import { fileWebhookSecrets } from "../../http/webhook-secrets.js";
import type { WorkflowJobDelivery } from "../../http/workflow-job-delivery.js";
import { SimModel, type JobSpec, type SimRunner } from "../model.js";
import { attachSimWebhooks, type SimWebhooks } from "./deliverer.js";

const require = createRequire(import.meta.url);
const schema = require("@octokit/webhooks-schemas/schema.json") as Record<string, unknown>;
type Example = Record<string, unknown> & { action: string; workflow_job: Record<string, unknown> };
const examples = (
  require("@octokit/webhooks-examples/api.github.com/index.json") as { name: string; examples: Example[] }[]
).find((e) => e.name === "workflow_job")!.examples;

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const ajv = addFormats(new Ajv({ strict: false, allErrors: true }));
const validators = new Map<string, ValidateFunction>();
/** The schema's definition for one action, compiled on first use (the whole file takes far longer). */
function validatorFor(action: string): ValidateFunction {
  let v = validators.get(action);
  if (!v) {
    v = ajv.compile({ definitions: schema["definitions"], $ref: `#/definitions/workflow_job$${action}` });
    validators.set(action, v);
  }
  return v;
}

const SECRET = "sim-webhook-secret";
const REF = { owner: "octo-org", repo: "octo-repo", baseUrl: "http://127.0.0.1:9" };

interface Received {
  readonly id: string;
  readonly event: string;
  readonly signed: boolean;
  readonly at: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly payload: Example;
}

let receiver: Server;
let receiverUrl: string;
let received: Received[];
let model: SimModel;
let hooks: SimWebhooks;

beforeEach(async () => {
  received = [];
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      void verify(SECRET, body, String(req.headers["x-hub-signature-256"])).then((signed) => {
        received.push({
          id: String(req.headers["x-github-delivery"]),
          event: String(req.headers["x-github-event"]),
          signed,
          at: Date.now(),
          headers: req.headers,
          payload: JSON.parse(body) as Example,
        });
        res.writeHead(signed ? 202 : 401).end();
      });
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhook`;
  model = new SimModel();
});

afterEach(async () => {
  hooks.detach();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

function attach(extra: Partial<Parameters<typeof attachSimWebhooks>[1]> = {}): SimWebhooks {
  hooks = attachSimWebhooks(model, { ref: REF, targets: [{ url: receiverUrl, secret: SECRET }], ...extra });
  return hooks;
}

/** A job through its whole life: queued (after approval, if asked), taken by a runner, completed. */
async function lifeOfAJob(spec: Partial<JobSpec> = {}): Promise<number> {
  const run = model.queueRun({ jobs: [{ name: "build", labels: ["self-hosted", "nix"], ...spec }] });
  const jobId = run.jobs[0]!.id;
  const runner = model.registerRunner(`runner-${jobId}`, ["self-hosted", "nix"]) as SimRunner;
  model.openSession(runner);
  const assignment = await model.pollJob(runner, 5000).promise;
  expect(assignment).toMatchObject({ jobId });
  model.complete(runner, jobId, "success");
  return jobId;
}

const actions = (): string[] => received.map((r) => r.payload.action);

describe("payloads", () => {
  it("are valid against the workflow_job schemas for every action, signed, with GitHub's headers", async () => {
    attach();
    const jobId = await lifeOfAJob({ waitsForApproval: true });
    await hooks.idle();
    expect(actions()).toEqual(["waiting", "queued", "in_progress", "completed"]);
    for (const r of received) {
      const validate = validatorFor(r.payload.action);
      expect(validate(r.payload), `${r.payload.action}: ${ajv.errorsText(validate.errors)}`).toBe(true);
      expect(r.signed).toBe(true);
      expect(r.event).toBe("workflow_job");
      expect(r.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.headers["content-type"]).toBe("application/json");
      expect(r.headers["user-agent"]).toMatch(/^GitHub-Hookshot\//);
      expect(r.headers["x-hub-signature"]).toMatch(/^sha1=[0-9a-f]{40}$/);
      expect(r.payload.workflow_job["id"]).toBe(jobId);
      expect((r.payload["repository"] as { full_name: string }).full_name).toBe("octo-org/octo-repo");
    }
    expect(new Set(received.map((r) => r.id)).size).toBe(4);
    const [waiting, queued, inProgress, completed] = received.map((r) => r.payload.workflow_job);
    expect(waiting!["status"]).toBe("waiting");
    expect(queued).toMatchObject({ status: "queued", runner_name: null, conclusion: null, steps: [] });
    expect(inProgress).toMatchObject({
      status: "in_progress",
      runner_name: `runner-${jobId}`,
      conclusion: null,
    });
    expect(completed).toMatchObject({
      status: "completed",
      conclusion: "success",
      runner_name: `runner-${jobId}`,
    });
  });

  it("have the shape of GitHub's examples: the same job fields with the same types, the same sender fields", async () => {
    attach();
    await lifeOfAJob({ waitsForApproval: true });
    await hooks.idle();
    const typeOf = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);
    for (const r of received) {
      // The newest example of the same action is the one with the most job fields.
      const example = examples
        .filter((e) => e.action === r.payload.action)
        .sort((a, b) => Object.keys(b.workflow_job).length - Object.keys(a.workflow_job).length)[0]!;
      const ours = r.payload.workflow_job;
      expect(Object.keys(ours).sort(), r.payload.action).toEqual(Object.keys(example.workflow_job).sort());
      for (const [key, value] of Object.entries(example.workflow_job))
        if (value !== null && ours[key] !== null)
          expect(typeOf(ours[key]), `${r.payload.action}.${key}`).toBe(typeOf(value));
      const exampleTop = new Set(examples.flatMap((e) => Object.keys(e)));
      for (const key of Object.keys(r.payload)) expect(exampleTop).toContain(key);
      expect(Object.keys(r.payload["sender"] as object).sort()).toEqual(
        Object.keys(example["sender"] as object).sort(),
      );
      const ourRepo = Object.keys(r.payload["repository"] as object);
      for (const key of Object.keys(example["repository"] as object)) expect(ourRepo).toContain(key);
    }
  });

  it("carry the job's own repository, the organization and the installation; a repository hook gets its repository's jobs only", async () => {
    model.addRepository("other-repo");
    const orgUrl = `${receiverUrl}?org`;
    attach({ installationId: 77, targets: [{ url: receiverUrl, secret: SECRET }] });
    hooks.addTarget({ url: orgUrl, secret: SECRET, scope: "organization" });
    const run = model.queueRun({ repository: "other-repo", jobs: [{ name: "b", labels: ["self-hosted"] }] });
    model.queueRun({ jobs: [{ name: "a", labels: ["self-hosted"] }] });
    await hooks.idle();
    const toOrg = received.filter(
      (r) => r.headers["x-github-hook-installation-target-type"] === "organization",
    );
    const toRepo = received.filter(
      (r) => r.headers["x-github-hook-installation-target-type"] === "repository",
    );
    expect(toOrg.map((r) => (r.payload["repository"] as { full_name: string }).full_name).sort()).toEqual([
      "octo-org/octo-repo",
      "octo-org/other-repo",
    ]);
    expect(toRepo.map((r) => (r.payload["repository"] as { full_name: string }).full_name)).toEqual([
      "octo-org/octo-repo",
    ]);
    const other = toOrg.find((r) => r.payload.workflow_job["run_id"] === run.id)!;
    expect(other.payload.workflow_job["run_url"]).toContain("/repos/octo-org/other-repo/actions/runs/");
    expect(other.payload["repository"]).toMatchObject({ id: model.repository("other-repo")!.id });
    expect(other.payload["organization"]).toMatchObject({ login: "octo-org" });
    expect(other.payload["installation"]).toMatchObject({ id: 77 });
    for (const r of received) {
      const validate = validatorFor(r.payload.action);
      expect(validate(r.payload), ajv.errorsText(validate.errors)).toBe(true);
    }
  });

  it("say what was true when the change happened, not later", async () => {
    attach();
    await lifeOfAJob();
    await hooks.idle();
    const queued = received.find((r) => r.payload.action === "queued")!.payload.workflow_job;
    expect(queued["status"]).toBe("queued");
    expect(queued["completed_at"]).toBeNull();
  });

  it("a cancelled job's completed delivery is valid too", async () => {
    attach();
    const run = model.queueRun({ jobs: [{ name: "lint", labels: ["self-hosted"] }] });
    model.cancelJob(run.jobs[0]!.id);
    await hooks.idle();
    expect(actions()).toEqual(["queued", "completed"]);
    const validate = validatorFor("completed");
    expect(validate(received[1]!.payload), ajv.errorsText(validate.errors)).toBe(true);
    expect(received[1]!.payload.workflow_job["conclusion"]).toBe("cancelled");
  });

  it("signs with the first line of a secret file, read at each delivery", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rc-simhook-"));
    try {
      const file = join(dir, "secret");
      writeFileSync(file, `\n${SECRET}\nolder-secret\n`);
      hooks = attachSimWebhooks(model, { ref: REF, targets: [{ url: receiverUrl, secretFile: file }] });
      model.queueRun({ jobs: [{ labels: ["x"] }] });
      await hooks.idle();
      writeFileSync(file, "rotated\n");
      model.queueRun({ jobs: [{ labels: ["x"] }] });
      await hooks.idle();
      expect(received.map((r) => r.signed)).toEqual([true, false]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("faults", () => {
  it("drop: the delivery never arrives, and the record says so", async () => {
    attach({ faults: [{ fault: "drop", action: "queued" }] });
    await lifeOfAJob();
    await hooks.idle();
    expect(actions()).toEqual(["in_progress", "completed"]);
    const dropped = hooks.deliveries.find((d) => d.action === "queued")!;
    expect(dropped).toMatchObject({ faults: ["drop"], sentAt: null, status: null });
    expect(hooks.deliveries.filter((d) => d.status === 202)).toHaveLength(2);
  });

  it("duplicate: the same delivery (same X-GitHub-Delivery, same body) arrives twice", async () => {
    attach({ faults: [{ fault: "duplicate", action: "queued" }] });
    await lifeOfAJob();
    await hooks.idle();
    expect(actions()).toEqual(["queued", "queued", "in_progress", "completed"]);
    expect(received[0]!.id).toBe(received[1]!.id);
    expect(received[0]!.payload).toEqual(received[1]!.payload);
  });

  it("reorder: a held-back queued arrives after the job's in_progress", async () => {
    attach({ faults: [{ fault: "reorder", action: "queued" }] });
    await lifeOfAJob();
    await hooks.idle();
    expect(actions()).toEqual(["in_progress", "queued", "completed"]);
  });

  it("delay: the delivery arrives late, overtaken by the ones after it", async () => {
    attach({ faults: [{ fault: "delay", action: "queued", delayMs: 400 }] });
    const before = Date.now();
    await lifeOfAJob();
    await hooks.idle();
    expect(actions()).toEqual(["in_progress", "completed", "queued"]);
    expect(received[2]!.at - before).toBeGreaterThanOrEqual(390);
  });

  it("bad-signature: the receiver cannot verify it; times and after pick which deliveries", async () => {
    attach({ faults: [{ fault: "bad-signature", after: 1, times: 1 }] });
    await lifeOfAJob();
    await hooks.idle();
    expect(actions()).toEqual(["queued", "in_progress", "completed"]);
    expect(received.map((r) => r.signed)).toEqual([true, false, true]);
    expect(hooks.deliveries.map((d) => d.status)).toEqual([202, 401, 202]);
    hooks.clearFaults();
  });

  it("a receiver that is down is recorded as an error, not a crash", async () => {
    hooks = attachSimWebhooks(model, {
      ref: REF,
      targets: [{ url: "http://127.0.0.1:9/webhook", secret: SECRET }],
    });
    model.queueRun({ jobs: [{ labels: ["x"] }] });
    await hooks.idle();
    expect(hooks.deliveries[0]!.status).toBeNull();
    expect(hooks.deliveries[0]!.error).toBeTruthy();
  });
});

describe("against the daemon's webhook listener", () => {
  it("every delivery is accepted once: duplicates deduped, wrong signatures refused, order kept in the records", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rc-simhook-"));
    const file = join(dir, "secret");
    writeFileSync(file, SECRET + "\n");
    const taken: WorkflowJobDelivery[] = [];
    const listener = createWebhookServer({
      secrets: fileWebhookSecrets(file),
      clock: systemClock,
      onWorkflowJob: (d) => taken.push(d),
    });
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(listener.address() as AddressInfo).port}/webhook`;
      hooks = attachSimWebhooks(model, {
        ref: REF,
        targets: [{ url, secretFile: file }],
        faults: [
          { fault: "duplicate", action: "queued" },
          { fault: "bad-signature", action: "completed" },
        ],
      });
      const jobId = await lifeOfAJob({ waitsForApproval: true });
      await hooks.idle();
      expect(taken.map((d) => d.action)).toEqual(["waiting", "queued", "in_progress"]);
      expect(taken.every((d) => d.job.id === jobId && d.job.repository === "octo-org/octo-repo")).toBe(true);
      expect(taken[2]!.job.runnerName).toBe(`runner-${jobId}`);
      expect(hooks.deliveries.map((d) => [d.action, d.status])).toEqual([
        ["waiting", 202],
        ["queued", 202],
        ["queued", 200],
        ["in_progress", 202],
        ["completed", 401],
      ]);
    } finally {
      listener.closeAllConnections();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
