/**
 * The dashboard's data and its event stream (GET /events, server-sent events): a snapshot of
 * capacity, containers, the last finished jobs, GitHub's budget and health, sent when a client
 * connects and again (coalesced) after each controller event.
 *
 * Bounded: at most `maxClients` streams at once (more get 503); each stream is closed after
 * `maxStreamMs` (the page reconnects by itself) or at once when its client stops reading (more
 * than `maxBufferedBytes` unsent); a comment every `keepaliveMs` keeps proxies from timing it out.
 * Time only through the Clock. Nothing secret is in a snapshot: names, numbers and the health line.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Clock } from "../clock.js";
import type { ControllerEvent } from "../controller.js";
import type { JobReport } from "../core/model.js";
import { isPoolContainerName, shownJobId } from "../domain/naming.js";
import { containerState, type DaemonView } from "./daemon-view.js";

export interface DashboardOptions {
  readonly view: DaemonView;
  readonly clock: Clock;
  /** Event-stream clients at once. Default 16. */
  readonly maxClients?: number;
  /** Between keepalive comments. Default 15 s. */
  readonly keepaliveMs?: number;
  /** A stream's longest life; the page reconnects. Default 15 minutes. */
  readonly maxStreamMs?: number;
  /** Unsent bytes after which a client that does not read is dropped. Default 256 KiB. */
  readonly maxBufferedBytes?: number;
  /** Events closer together than this share one snapshot. Default 250 ms. */
  readonly coalesceMs?: number;
  /** Finished jobs kept for the page. Default 50. */
  readonly jobsKept?: number;
}

export interface JobRow {
  readonly at: number;
  readonly job: number | null;
  readonly runner: string;
  readonly container: string;
  readonly queueWaitS: number | null;
  readonly startupS: number | null;
  readonly durationS: number | null;
  readonly cpuS: number | null;
  readonly peakMemoryBytes: number | null;
  readonly conclusion: string | null;
  readonly reason: string;
}

export interface DashboardSnapshot {
  readonly now: number;
  readonly health: { readonly ok: boolean; readonly text: string };
  readonly capacity: {
    readonly max: number;
    readonly minIdle: number;
    readonly queued: number | null;
    readonly creating: number;
    readonly starting: number;
    readonly idle: number;
    readonly busy: number;
    readonly destroying: number;
  };
  readonly containers: readonly {
    readonly name: string;
    readonly job: number | null;
    readonly state: string;
    readonly pool: boolean;
    readonly since: number;
  }[];
  readonly github: {
    readonly remaining: number | null;
    readonly limit: number | null;
    /** Epoch ms. */
    readonly resetAt: number | null;
    readonly pausedUntil: number | null;
  };
  readonly jobs: readonly JobRow[];
}

interface Client {
  readonly res: ServerResponse;
  readonly since: number;
}

const seconds = (ms: number | null): number | null => (ms === null ? null : Math.max(0, ms) / 1000);

function jobRow(j: JobReport, at: number): JobRow {
  return {
    at,
    job: j.jobId,
    runner: j.runnerName,
    container: j.container,
    queueWaitS: seconds(j.queueWaitMs),
    startupS: seconds(j.startupMs),
    durationS: seconds(j.durationMs),
    cpuS: j.cpuSeconds,
    peakMemoryBytes: j.peakMemoryBytes,
    conclusion: j.conclusion,
    reason: j.reason,
  };
}

export class Dashboard {
  readonly #opts: DashboardOptions;
  readonly #clients = new Set<Client>();
  /** Newest first. */
  #jobs: JobRow[] = [];
  #broadcastPending = false;
  /** The keepalive loop, while any client is connected. */
  #loop: AbortController | null = null;
  #closed = false;

  constructor(opts: DashboardOptions) {
    this.#opts = opts;
  }

  get clients(): number {
    return this.#clients.size;
  }

  /** A controller event: remember finished jobs, and tell the clients (coalesced). */
  observe(e: ControllerEvent): void {
    if (e.type === "destroyed" && e.job !== null) {
      this.#jobs.unshift(jobRow(e.job, e.at));
      this.#jobs.length = Math.min(this.#jobs.length, this.#opts.jobsKept ?? 50);
    }
    if (this.#clients.size > 0) this.#scheduleBroadcast();
  }

  snapshot(): DashboardSnapshot {
    const { view } = this.#opts;
    const records = view.containers();
    const counts = { creating: 0, starting: 0, idle: 0, busy: 0, destroying: 0 };
    for (const r of records) counts[containerState(r.phase)]++;
    const gh = view.githubHealth();
    const now = view.now();
    const health = view.health();
    return {
      now,
      health: { ok: health.ok, text: health.text },
      capacity: { max: view.maxConcurrent, minIdle: view.minIdle(), queued: view.queuedJobs(), ...counts },
      containers: records.map((r) => ({
        name: r.name,
        // A pool container has no job until it takes one (its trigger is 0).
        job: shownJobId(r),
        state: containerState(r.phase),
        pool: isPoolContainerName(r.name),
        since: r.createdAt,
      })),
      github: {
        remaining: gh.rateLimit?.remaining ?? null,
        limit: gh.rateLimit?.limit ?? null,
        resetAt: gh.rateLimit ? gh.rateLimit.reset * 1000 : null,
        pausedUntil: gh.blockedUntil !== null && gh.blockedUntil > now ? gh.blockedUntil : null,
      },
      jobs: this.#jobs,
    };
  }

  /** GET /events. Answers 503 when `maxClients` streams are open already. */
  serve(_req: IncomingMessage, res: ServerResponse): void {
    const max = this.#opts.maxClients ?? 16;
    if (this.#closed || this.#clients.size >= max) {
      const body =
        JSON.stringify({
          error: {
            code: "too_many_streams",
            message: `at most ${max} dashboard streams at once; try again later`,
          },
        }) + "\n";
      res.writeHead(503, {
        "content-type": "application/json; charset=utf-8",
        "content-length": String(Buffer.byteLength(body)),
        "cache-control": "no-store",
        "retry-after": "30",
        "x-content-type-options": "nosniff",
      });
      res.end(body);
      return;
    }
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      "x-accel-buffering": "no",
    });
    const client: Client = { res, since: this.#opts.clock.now() };
    this.#clients.add(client);
    const drop = (): void => {
      this.#clients.delete(client);
    };
    // The response closes when the stream is ended or the connection goes, whichever first.
    res.on("close", drop);
    res.on("error", drop);
    // The page reconnects after 3 s when a stream ends.
    res.write(`retry: 3000\n\n`);
    this.#send(client, this.#event());
    this.#ensureLoop();
  }

  /** End every stream (the daemon stops). */
  close(): void {
    this.#closed = true;
    this.#loop?.abort();
    this.#loop = null;
    for (const c of this.#clients) c.res.end();
    this.#clients.clear();
  }

  #event(): string {
    return `event: snapshot\ndata: ${JSON.stringify(this.snapshot())}\n\n`;
  }

  #send(client: Client, text: string): void {
    const { res } = client;
    if (res.writableLength > (this.#opts.maxBufferedBytes ?? 256 * 1024)) {
      // Not reading: its buffer would grow without bound.
      this.#clients.delete(client);
      res.destroy();
      return;
    }
    res.write(text);
  }

  #scheduleBroadcast(): void {
    if (this.#broadcastPending) return;
    this.#broadcastPending = true;
    void this.#opts.clock.sleep(this.#opts.coalesceMs ?? 250).then(() => {
      this.#broadcastPending = false;
      if (this.#clients.size === 0 || this.#closed) return;
      const text = this.#event();
      for (const c of [...this.#clients]) this.#send(c, text);
    });
  }

  #ensureLoop(): void {
    if (this.#loop !== null || this.#closed) return;
    const stop = new AbortController();
    this.#loop = stop;
    void this.#keepalive(stop.signal);
  }

  /** Keepalive comments, and the end of streams past their life; runs while any client is connected. */
  async #keepalive(signal: AbortSignal): Promise<void> {
    const { clock } = this.#opts;
    const every = this.#opts.keepaliveMs ?? 15_000;
    const maxLife = this.#opts.maxStreamMs ?? 15 * 60_000;
    while (!signal.aborted && this.#clients.size > 0) {
      await clock.sleep(every, signal);
      if (signal.aborted) break;
      const now = clock.now();
      for (const c of [...this.#clients]) {
        if (now - c.since >= maxLife) {
          this.#clients.delete(c);
          c.res.end();
        } else {
          this.#send(c, ": keepalive\n\n");
        }
      }
    }
    if (this.#loop?.signal === signal) this.#loop = null;
  }
}
