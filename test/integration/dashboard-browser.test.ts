/**
 * The dashboard in a real headless Chromium (Debian's, driven by playwright-core): the page loads
 * with no console error (a CSP violation, a failed request or a script error would be one), fits
 * a phone's width, and shows a container appear and go away live, then the finished job.
 * Skipped, saying so, when /usr/bin/chromium is not installed (.ci/run installs it).
 * DASHBOARD_SCREENSHOT=path also saves a screenshot there (docs/dashboard.png).
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeWorld, startInProcess, waitFor, type InProcess, type World } from "../helpers/world.js";

const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  process.stderr.write(
    `SKIPPED: the dashboard browser test needs Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)\n`,
  );
}

let world: World;
let daemon: InProcess | undefined;
let profile: string;
let context: BrowserContext | undefined;

beforeEach(async () => {
  world = await makeWorld();
  profile = await mkdtemp(join(tmpdir(), "rc-chromium-"));
});
afterEach(async () => {
  await context?.close();
  context = undefined;
  await daemon?.stop();
  daemon = undefined;
  await world.close();
  await rm(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
});

async function launch(viewport: { width: number; height: number }): Promise<Page> {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return context.pages()[0] ?? (await context.newPage());
}

describe.skipIf(!haveChromium)("the dashboard in Chromium", () => {
  it("loads without a console error, fits a phone, and follows a container live", async () => {
    daemon = await startInProcess(world, { MAX_CONCURRENT: "4" });
    const page = await launch({ width: 390, height: 844 });
    const problems: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("requestfailed", (r) => {
      // The event stream is cut when the daemon stops at the end; anything else is a problem.
      if (!r.url().endsWith("/events")) problems.push(`request failed: ${r.url()}`);
    });
    const external: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith(daemon!.url) && !r.url().startsWith("data:")) external.push(r.url());
    });

    const res = await page.goto(`${daemon.url}/`);
    expect(res?.status()).toBe(200);
    await page.locator("#conn", { hasText: "live" }).waitFor({ timeout: 10_000 });
    await expect.poll(() => page.locator("#health").textContent()).toBe("healthy");
    expect(await page.locator("#cap-max").textContent()).toBe("4");

    const run = world.sim.queueRun({
      jobs: [{ name: "watched", labels: ["self-hosted", "nix"], durationMs: 2500 }],
    });
    const jobId = run.jobs[0]!.id;
    // A container appears, attributed to the job, and becomes busy.
    const row = page.locator("#containers tr", { hasText: `#${jobId}` });
    await row.waitFor({ timeout: 15_000 });
    await page.locator("#containers tr", { hasText: "busy" }).waitFor({ timeout: 15_000 });
    expect(await page.locator("#cap-used").textContent()).toBe("1");
    // Readable on a phone: nothing wider than the screen but the tables' own scroll boxes.
    // (A string: this runs in the page, where there is a DOM; the tests compile without one.)
    const overflow = await page.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
    expect(overflow).toBeLessThanOrEqual(0);
    // It goes away, and the job shows among the finished ones with its timings.
    await row.waitFor({ state: "detached", timeout: 20_000 });
    const finished = page.locator("#jobs tr", { hasText: `#${jobId}` });
    await finished.waitFor({ timeout: 10_000 });
    const cells = await finished.locator("td").allTextContents();
    expect(cells[2]).toMatch(/success|finished/);
    expect(cells[5]).toMatch(/\d+(\.\d)? s/); // duration
    expect(await page.locator("#containers-empty").isVisible()).toBe(true);
    await waitFor(
      "the job done in the simulator",
      () => world.sim.model.jobs.get(jobId)?.status === "completed",
    );

    expect(external).toEqual([]);
    expect(problems).toEqual([]);
  });

  // Not a check: the README's picture (DASHBOARD_SCREENSHOT=docs/dashboard.png).
  it.runIf(process.env["DASHBOARD_SCREENSHOT"])("takes the README's screenshot", async () => {
    daemon = await startInProcess(world, { MAX_CONCURRENT: "6", MIN_IDLE: "1" });
    const nix = ["self-hosted", "nix"];
    world.sim.queueRun({
      jobs: [1, 2, 3, 4].map((i) => ({ name: `build-${i}`, labels: nix, durationMs: 600 * i })),
    });
    await waitFor(
      "four jobs done",
      () => [...world.sim.model.jobs.values()].filter((j) => j.status === "completed").length >= 4,
      30_000,
    );
    world.sim.queueRun({
      jobs: [1, 2, 3].map((i) => ({ name: `test-${i}`, labels: nix, durationMs: 60_000 })),
    });
    const page = await launch({ width: 960, height: 760 });
    await page.goto(`${daemon.url}/`);
    await waitFor(
      "three busy",
      async () => (await page.locator("#containers tr", { hasText: "busy" }).count()) >= 3,
      30_000,
    );
    await page.screenshot({ path: process.env["DASHBOARD_SCREENSHOT"]!, fullPage: true });
  });
});
