/**
 * Webhook mode's wiring: the listener on WEBHOOK_HOST:WEBHOOK_PORT (its own port; the status API
 * stays local) turning each verified `workflow_job` delivery into a report for the core.
 */
import type { Server } from "node:http";
import type { Clock } from "../clock.js";
import type { ReportedJob } from "../core/model.js";
import { ConfigError, describeError } from "../errors.js";
import type { Logger } from "../log.js";
import { closeServer, listen } from "./server.js";
import { createWebhookServer, WEBHOOK_PATH, type WebhookResult } from "./webhook.js";
import { fileWebhookSecrets } from "./webhook-secrets.js";
import type { WorkflowJobDelivery } from "./workflow-job-delivery.js";

export interface WebhookListener {
  readonly server: Server;
  /** Check the secret file, listen; returns the URL of POST /webhook. */
  start(): Promise<string>;
  stop(): Promise<void>;
}

export interface WebhookListenerOptions {
  readonly secretFile: string;
  readonly host: string;
  readonly port: number;
  readonly clock: Clock;
  readonly log: Logger;
  readonly onJob: (job: ReportedJob, delivery: WorkflowJobDelivery) => void;
  readonly onResult?: (result: WebhookResult) => void;
}

export function reportedJobOf(delivery: WorkflowJobDelivery): ReportedJob {
  const j = delivery.job;
  return {
    id: j.id,
    runId: j.runId,
    name: j.name,
    labels: j.labels,
    status: delivery.action,
    runnerName: j.runnerName,
    conclusion: j.conclusion,
    createdAt: j.createdAt,
    repository: j.repository,
  };
}

export function createWebhookListener(opts: WebhookListenerOptions): WebhookListener {
  const secrets = fileWebhookSecrets(opts.secretFile);
  const server = createWebhookServer({
    secrets,
    clock: opts.clock,
    log: opts.log,
    onWorkflowJob: (delivery) => {
      opts.log.debug("workflow_job delivery", {
        job: delivery.job.id,
        action: delivery.action,
        delivery: delivery.deliveryId,
      });
      opts.onJob(reportedJobOf(delivery), delivery);
    },
    ...(opts.onResult ? { onResult: opts.onResult } : {}),
  });
  return {
    server,
    async start() {
      try {
        await secrets.current();
      } catch (e) {
        throw new ConfigError(
          `WEBHOOK_SECRET_FILE=${opts.secretFile} cannot be used: ${describeError(e)}`,
          "put the webhook's secret in that file (one secret a line), readable by the daemon",
        );
      }
      const addr = await listen(server, opts.host, opts.port);
      const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
      return `http://${host}:${addr.port}${WEBHOOK_PATH}`;
    },
    async stop() {
      if (server.listening) await closeServer(server);
    },
  };
}
