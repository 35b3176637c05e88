/**
 * The composition root: builds the whole daemon from a frozen Config. Builds only — nothing is
 * opened or started until `start()`. `main` is the only caller that reads the environment,
 * installs signal handlers and exits.
 */
import type { Server } from "node:http";
import { join } from "node:path";
import { systemClock, type Clock } from "./clock.js";
import { scopeName, type Config } from "./config.js";
import { Controller, type ControllerEvent, type RetryTiming } from "./controller.js";
import { ConfigError, describeError } from "./errors.js";
import { connectGitHub } from "./github/connect.js";
import { daemonHealth } from "./http/health.js";
import { closeServer, createHttpServer, listen, type HealthReport } from "./http/server.js";
import { createWebhookListener, type WebhookListener } from "./http/webhook-listener.js";
import type { WebhookResult } from "./http/webhook.js";
import { controlSocketPath, createControlServer, listenControl } from "./http/control.js";
import type { Dashboard } from "./http/dashboard.js";
import type { Metrics } from "./http/metrics.js";
import { createObservability } from "./http/observability.js";
import { containerState, poolReport, type PoolReport } from "./http/pool-report.js";
import { createLogger, type Logger } from "./log.js";
import { NixosContainerBackend } from "./backend/nixos-container.js";
import { NspawnBackend } from "./backend/nspawn.js";
import { ProcessBackend } from "./backend/process.js";
import { Launcher } from "./exec/launcher.js";
import { LabelMatcher } from "./domain/labels.js";
import { isPoolContainerName, shownJobId } from "./domain/naming.js";
import { subnet } from "./domain/subnets.js";
import type { Backend, GitHubPort } from "./ports.js";
import { FileStateStore, type StateStore } from "./state/store.js";
import { acquireLock, type Lock } from "./state/lock.js";
import { checkRunnerCommand } from "./backend/process-checks.js";

export interface AppOverrides {
  readonly github?: GitHubPort;
  readonly backend?: Backend;
  readonly store?: StateStore;
  readonly clock?: Clock;
  readonly log?: Logger;
  readonly onEvent?: (e: ControllerEvent) => void;
  /** Retry back-off multiplier for the GitHub client (tests). */
  readonly githubRetryBaseMs?: number;
  /** Skip the STATE_DIR lock, and with it the control socket (tests that run a second app on purpose). */
  readonly noLock?: boolean;
  readonly retry?: RetryTiming;
  /** Told the outcome of every webhook request (metrics, tests). */
  readonly onWebhookResult?: (result: WebhookResult) => void;
}

export interface App {
  readonly config: Config;
  readonly controller: Controller;
  readonly github: GitHubPort;
  readonly backend: Backend;
  readonly http: Server;
  /** The control API on STATE_DIR/control.sock (served while the app holds the STATE_DIR lock). */
  readonly control: Server;
  /** GET /metrics; `metrics.webhookDelivery(result)` counts webhook deliveries (the listener's results). */
  readonly metrics: Metrics;
  /** GET / and GET /events. */
  readonly dashboard: Dashboard;
  /** The webhook listener, in webhook mode (WEBHOOK_SECRET_FILE set). */
  readonly webhook: WebhookListener | null;
  /** POST /webhook's URL once started, in webhook mode. */
  webhookUrl(): string | null;
  readonly log: Logger;
  /** Load state, take the STATE_DIR lock, listen, start the loop. Returns the HTTP base URL. */
  start(): Promise<string>;
  /** Stop polling, finish actions under way, save state, close the listener. Containers keep running. */
  stop(): Promise<void>;
  status(): StatusReport;
  health(): HealthReport;
}

export interface StatusReport {
  readonly active_containers: readonly {
    readonly name: string;
    readonly job_id: number | null;
    readonly running_seconds: number;
    readonly phase: string;
    /** creating, starting, idle, busy or destroying. */
    readonly state: string;
    /** Made for the warm pool rather than for a job. */
    readonly pool: boolean;
    readonly runner_name: string;
    readonly subnet: string;
    readonly trigger_job_id: number;
  }[];
  readonly max_concurrent: number;
  readonly poll_interval_seconds: number;
  readonly job_timeout_seconds: number;
  readonly [key: string]: unknown;
}

/** /status's `org` part: the repositories polled and the budget at work. */
function orgStatus(config: Config, controller: Controller): Record<string, unknown> {
  const p = controller.polling();
  const scope = config.scope;
  return {
    repositories: scope.kind === "org" && scope.repositories !== "all" ? scope.repositories : "*",
    repositories_known: p.repositories,
    repositories_never_polled: p.neverPolled,
    runner_group: scope.kind === "org" ? scope.runnerGroup : null,
    poll_budget_per_minute: config.pollBudget,
    poll_requests_last_minute: p.spentLastMinute,
  };
}

export function buildBackend(config: Config, log: Logger, clock: Clock): Backend {
  switch (config.backend) {
    case "process":
      if (!config.runnerCommand)
        throw new ConfigError("RUNNER_COMMAND is not set but BACKEND=process needs it");
      return new ProcessBackend({
        root: join(config.stateDir, "containers"),
        command: config.runnerCommand,
        log,
        clock,
        path: config.path,
        // One per daemon: runners are forked there, not on this event loop.
        launcher: new Launcher({ log }),
      });
    case "nspawn": {
      const n = config.nspawn;
      if (n.root === undefined) throw new ConfigError("NSPAWN_ROOT is not set but BACKEND=nspawn needs it");
      if (!n.boot && !config.runnerCommand)
        throw new ConfigError(
          "RUNNER_COMMAND is not set but BACKEND=nspawn with NSPAWN_BOOT=false needs it",
          "set it to the runner executable inside the container, or NSPAWN_BOOT=true to boot the root",
        );
      if (n.root === "/" && n.volatile === "overlay")
        throw new ConfigError(
          "NSPAWN_ROOT=/ cannot be used with NSPAWN_VOLATILE=overlay (systemd-nspawn refuses the host's root)",
          "set NSPAWN_VOLATILE=yes, or give a directory holding the container's root",
        );
      const c = config.container;
      return new NspawnBackend({
        root: join(config.stateDir, "nspawn"),
        nspawn: { ...n, root: n.root },
        runnerCommand: config.runnerCommand,
        system: c.system,
        limits: { cpuQuota: c.cpuQuota, memoryMax: c.memoryMax, tasksMax: c.tasksMax },
        log,
        clock,
        path: config.path,
        startTimeoutMs: c.startTimeoutMs,
      });
    }
    case "nixos-container": {
      const c = config.container;
      return new NixosContainerBackend({
        log,
        clock,
        // Ownership markers: only this instance's containers are listed, adopted or destroyed.
        ownedDir: join(config.stateDir, "nixos-containers"),
        legacyStateFile: join(config.stateDir, "state.json"),
        source:
          c.system !== undefined
            ? { kind: "system", path: c.system }
            : { kind: "template", path: c.template },
        ...(c.nixosPath !== undefined ? { nixosPath: c.nixosPath } : {}),
        // A template is evaluated by nixos-container: it may need <nixpkgs> from our NIX_PATH.
        ...(config.nixPath ? { nixPath: config.nixPath } : {}),
        path: config.path,
        limits: { cpuQuota: c.cpuQuota, memoryMax: c.memoryMax, tasksMax: c.tasksMax },
        extraNspawnFlags: c.extraNspawnFlags,
        startTimeoutMs: c.startTimeoutMs,
      });
    }
  }
}

export function buildApp(config: Config, overrides: AppOverrides = {}): App {
  const clock = overrides.clock ?? systemClock;
  const log = overrides.log ?? createLogger({ level: config.logLevel, format: config.logFormat });
  // The daemon's GitHub side as configured (tests may bring their own port instead).
  const connection = overrides.github
    ? null
    : connectGitHub(config, {
        log: log.child({ component: "github" }),
        clock,
        ...(overrides.githubRetryBaseMs !== undefined ? { retryBaseMs: overrides.githubRetryBaseMs } : {}),
      });
  const github = overrides.github ?? connection!.client;
  const backend = overrides.backend ?? buildBackend(config, log.child({ component: "backend" }), clock);
  const store = overrides.store ?? new FileStateStore(config.stateDir);
  // /metrics and the dashboard read the daemon when asked (after start) and hear its events.
  const { metrics, dashboard, observe, handlers } = createObservability(
    {
      maxConcurrent: config.maxConcurrent,
      containers: () => controller.containers(),
      counters: () => controller.counters,
      minIdle: () => controller.minIdle,
      queuedJobs: () => queuedJobs(),
      githubHealth: () => github.health(),
      githubStats: () => github.stats(),
      health: () => health(),
      now: () => clock.now(),
    },
    clock,
  );
  const controller = new Controller({
    config,
    github,
    backend,
    store,
    clock,
    log,
    onEvent: (e) => {
      observe(e);
      overrides.onEvent?.(e);
    },
    ...(overrides.retry ? { retry: overrides.retry } : {}),
  });
  const matcher = new LabelMatcher(config.runnerLabels);
  const queuedJobs = (): number | null => {
    const view = controller.lastView();
    return view ? view.jobs.filter((j) => j.status === "queued" && matcher.matches(j.labels)).length : null;
  };
  let lock: Lock | null = null;

  const health = (): HealthReport => daemonHealth(config, controller, github, clock.now());

  const status = (): StatusReport => {
    const now = clock.now();
    const view = controller.lastView();
    const h = github.health();
    const s = github.stats();
    const records = controller.containers();
    return {
      active_containers: records.map((r) => ({
        name: r.name,
        job_id: shownJobId(r),
        running_seconds: Math.max(0, Math.round((now - r.createdAt) / 1000)),
        phase: r.phase,
        state: containerState(r.phase),
        pool: isPoolContainerName(r.name),
        runner_name: r.runnerName,
        subnet: subnet(r.subnet).cidr,
        trigger_job_id: r.triggerJobId,
      })),
      max_concurrent: config.maxConcurrent,
      min_idle: controller.minIdle,
      poll_interval_seconds: config.pollIntervalMs / 1000,
      job_timeout_seconds: config.jobTimeoutMs / 1000,
      startup_timeout_seconds: config.startupTimeoutMs / 1000,
      idle_timeout_seconds: config.idleTimeoutMs / 1000,
      repo: scopeName(config.scope),
      scope: config.scope.kind,
      ...(config.scope.kind === "org" ? { org: orgStatus(config, controller) } : {}),
      auth: config.credentials.kind,
      labels: config.runnerLabels,
      runner_name_prefix: config.runnerNamePrefix,
      backend: config.backend,
      registration: config.registration,
      healthy: health().ok,
      queued_jobs: queuedJobs(),
      last_poll: view ? new Date(view.startedAt).toISOString() : null,
      github: {
        last_success: h.lastSuccessAt ? new Date(h.lastSuccessAt).toISOString() : null,
        last_error: h.lastError ? { code: h.lastError.code, message: h.lastError.message } : null,
        rate_limit_remaining: h.rateLimit?.remaining ?? null,
        paused_until: h.blockedUntil && h.blockedUntil > now ? new Date(h.blockedUntil).toISOString() : null,
        requests: s.requests,
        not_modified: s.notModified,
      },
      pending_deregistrations: controller.pendingDeregistrations().map((d) => d.runnerName),
      counters: { ...controller.counters },
      uptime_seconds: controller.startedAt ? Math.round((now - controller.startedAt) / 1000) : 0,
    };
  };

  const http = createHttpServer({ health, status, ...handlers }, log.child({ component: "http" }));
  const webhook = config.webhook.secretFile
    ? createWebhookListener({
        secretFile: config.webhook.secretFile,
        host: config.webhook.host,
        port: config.webhook.port,
        clock,
        log: log.child({ component: "webhook" }),
        onJob: (job) => controller.jobReported(job),
        onResult: (result) => {
          metrics.webhookDelivery(result);
          overrides.onWebhookResult?.(result);
        },
      })
    : null;
  let webhookUrl: string | null = null;
  const pool = (): PoolReport =>
    poolReport(controller.containers(), controller.minIdle, config.maxConcurrent, clock.now());
  const control = createControlServer(
    {
      cleanupAll: () => controller.cleanupAll(),
      pool,
      setPool: async (minIdle) => {
        await controller.setMinIdle(minIdle);
        return pool();
      },
    },
    log.child({ component: "control" }),
    clock,
  );

  return {
    config,
    controller,
    github,
    backend,
    http,
    control,
    metrics,
    dashboard,
    log,
    status,
    health,
    webhook,
    webhookUrl: () => webhookUrl,
    async start() {
      // Everything that can be checked is checked before anything starts.
      await connection?.credentials.check();
      if (connection && config.scope.kind === "org") {
        await connection.client.resolveRunnerGroup();
        await connection.client.checkRunnerGroupServes(config.scope.repositories);
      }
      checkRunnerCommand(config);
      if (!overrides.noLock) lock = await acquireLock(config.stateDir, "daemon");
      try {
        await controller.load();
        const addr = await listen(http, config.httpHost, config.httpPort);
        const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
        const url = `http://${host}:${addr.port}`;
        if (lock) {
          // Only the lock holder serves the control socket (so a leftover file can be replaced).
          await listenControl(control, controlSocketPath(config.stateDir)).catch(async (e: unknown) => {
            await closeServer(http);
            throw e;
          });
        }
        if (webhook) {
          webhookUrl = await webhook.start().catch(async (e: unknown) => {
            await closeServer(http);
            if (control.listening) await closeServer(control);
            throw e;
          });
        }
        controller.start();
        log.info("runner-controller started", {
          [config.scope.kind === "repo" ? "repo" : "org"]: scopeName(config.scope),
          labels: config.runnerLabels.join(","),
          max: config.maxConcurrent,
          poll: `${config.pollIntervalMs / 1000}s`,
          backend: config.backend,
          http: url,
          ...(webhookUrl ? { webhook: webhookUrl } : {}),
        });
        return url;
      } catch (e) {
        await lock?.release();
        lock = null;
        throw e;
      }
    },
    async stop() {
      log.info("stopping: containers keep running and are adopted at the next start");
      // Event streams never end by themselves; the listener closes only once they have.
      dashboard.close();
      const closing = closeServer(http).catch((e: unknown) =>
        log.warn("closing HTTP failed", { error: describeError(e) }),
      );
      // A cleanup under way finishes (controller.stop waits for it) and gets its answer.
      const closingControl = control.listening
        ? closeServer(control).catch((e: unknown) =>
            log.warn("closing the control socket failed", { error: describeError(e) }),
          )
        : Promise.resolve();
      const closingWebhook = (webhook?.stop() ?? Promise.resolve()).catch((e: unknown) =>
        log.warn("closing the webhook listener failed", { error: describeError(e) }),
      );
      await controller.stop();
      await Promise.all([closing, closingControl, closingWebhook]);
      await lock?.release();
      lock = null;
    },
  };
}
