/**
 * `npm run bench:observe`: what observing the daemon costs it. The real daemon (a child process)
 * runs the same steady workload against the simulator twice per round — once alone, once with
 * /metrics scraped every second and 5 dashboards following /events — and its CPU (from /proc)
 * and RSS (sampled each second) are compared. Goal: < 2 % of one core and < 5 MB more.
 *
 *   node dist/bench/observe.js [--seconds 60] [--rounds 2] [--runner PATH]
 *
 * Writes bench/results/observe.json.
 */
import { get, type IncomingMessage } from "node:http";
import { mkdir, writeFile } from "node:fs/promises";
import { fastRunnerPath } from "./fast-runner.js";
import { makeBench, percentile, sleep, startDaemon } from "./harness.js";
import { packagePath, SIM_RUNNER_PATH } from "../util/paths.js";

interface Run {
  readonly observed: boolean;
  /** Share of one core over the measured window. */
  readonly cpuShare: number;
  /** Median RSS and private anonymous RSS over the window, bytes. */
  readonly rss: number;
  readonly rssAnon: number;
  readonly scrapes: number;
  readonly events: number;
  readonly jobs: number;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const nix = ["self-hosted", "nix"];
const WARMUP_MS = 10_000;

/** Five dashboards: event streams read as a browser would. Returns a counter and a closer. */
function openDashboards(url: string, n: number): { events: () => number; close: () => void } {
  let events = 0;
  const responses: IncomingMessage[] = [];
  for (let i = 0; i < n; i++) {
    get(`${url}/events`, (res) => {
      responses.push(res);
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (events += chunk.split("event: snapshot").length - 1));
      res.on("error", () => {});
    }).on("error", () => {});
  }
  return { events: () => events, close: () => responses.forEach((r) => r.destroy()) };
}

async function once(runner: string, observed: boolean, seconds: number): Promise<Run> {
  const bench = await makeBench(runner);
  const d = startDaemon(
    bench.env({ POLL_INTERVAL: "1", MAX_CONCURRENT: "10", IDLE_TIMEOUT: "30", LOG_LEVEL: "info" }),
  );
  const url = await d.url;
  let stop = false;
  let jobs = 0;
  // The workload: a job every second, each running 3 s (about 3 containers at any time).
  const workload = (async () => {
    while (!stop) {
      bench.sim.queueRun({ jobs: [{ labels: nix, durationMs: 3000 }] });
      jobs++;
      await sleep(1000);
    }
  })();
  let scrapes = 0;
  const dashboards = observed ? openDashboards(url, 5) : null;
  const scraper = observed
    ? (async () => {
        while (!stop) {
          const res = await fetch(`${url}/metrics`);
          if (res.ok && (await res.text()).includes("runner_controller_up")) scrapes++;
          await sleep(1000);
        }
      })()
    : Promise.resolve();

  await sleep(WARMUP_MS);
  const cpu0 = d.cpuSeconds();
  const t0 = performance.now();
  const rss: number[] = [];
  const anon: number[] = [];
  const scrapes0 = scrapes;
  const events0 = dashboards?.events() ?? 0;
  const jobs0 = jobs;
  while (performance.now() - t0 < seconds * 1000) {
    await sleep(1000);
    rss.push(d.rss());
    anon.push(d.rssAnon());
  }
  const cpuShare = (d.cpuSeconds() - cpu0) / ((performance.now() - t0) / 1000);
  const result: Run = {
    observed,
    cpuShare,
    rss: percentile(
      rss.sort((a, b) => a - b),
      50,
    ),
    rssAnon: percentile(
      anon.sort((a, b) => a - b),
      50,
    ),
    scrapes: scrapes - scrapes0,
    events: (dashboards?.events() ?? 0) - events0,
    jobs: jobs - jobs0,
  };
  stop = true;
  dashboards?.close();
  await Promise.all([workload, scraper]);
  await d.stop();
  await bench.close();
  return result;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const mb = (b: number): string => (b / 2 ** 20).toFixed(1);

async function main(): Promise<void> {
  const seconds = Number(arg("seconds", "60"));
  const rounds = Number(arg("rounds", "2"));
  const runner = process.argv.includes("--runner")
    ? arg("runner", SIM_RUNNER_PATH)
    : ((await fastRunnerPath()) ?? SIM_RUNNER_PATH);
  const runs: Run[] = [];
  for (let r = 0; r < rounds; r++) {
    // Alternating which goes first cancels any drift of the host over the benchmark.
    for (const observed of r % 2 === 0 ? [false, true] : [true, false]) {
      const run = await once(runner, observed, seconds);
      runs.push(run);
      process.stdout.write(
        `round ${r + 1} ${observed ? "observed" : "alone   "}  CPU ${(run.cpuShare * 100).toFixed(2)} % of a core  RSS ${mb(run.rss)} MB (private ${mb(run.rssAnon)} MB)  ${run.jobs} jobs  ${run.scrapes} scrapes  ${run.events} snapshots\n`,
      );
    }
  }
  const alone = runs.filter((r) => !r.observed);
  const watched = runs.filter((r) => r.observed);
  const cpu = mean(watched.map((r) => r.cpuShare)) - mean(alone.map((r) => r.cpuShare));
  const rss = mean(watched.map((r) => r.rss)) - mean(alone.map((r) => r.rss));
  const anon = mean(watched.map((r) => r.rssAnon)) - mean(alone.map((r) => r.rssAnon));
  const verdict = (pass: boolean): string => (pass ? "PASS" : "MISS");
  process.stdout.write(
    `${verdict(cpu < 0.02)}  CPU for /metrics every second + 5 dashboards: ${(cpu * 100).toFixed(2)} % of one core (goal < 2 %)\n` +
      `${verdict(rss < 5 * 2 ** 20)}  RSS for the same: ${mb(rss)} MB (private ${mb(anon)} MB) (goal < 5 MB)\n`,
  );
  await mkdir(packagePath("bench/results"), { recursive: true });
  await writeFile(
    packagePath("bench/results/observe.json"),
    JSON.stringify(
      { seconds, rounds, runner, runs, cpuShare: cpu, rssBytes: rss, rssAnonBytes: anon },
      null,
      2,
    ) + "\n",
  );
}

await main();
