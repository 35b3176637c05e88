/** `runner-controller simulate --webhook URL --webhook-secret-file F` delivers signed workflow_job webhooks. */
import { verify } from "@octokit/webhooks-methods";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { CLI, waitFor } from "../helpers/world.js";

it("simulate --webhook sends each job change, signed with the secret file's secret", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rc-sim-webhook-"));
  const secretFile = join(dir, "secret");
  writeFileSync(secretFile, "cli-webhook-secret\n");
  const received: { action: string; signed: boolean }[] = [];
  const receiver = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      void verify("cli-webhook-secret", body, String(req.headers["x-hub-signature-256"])).then((signed) => {
        received.push({ action: (JSON.parse(body) as { action: string }).action, signed });
        res.writeHead(202).end();
      });
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhook`;
  const child = spawn(
    process.execPath,
    [CLI, "simulate", "--port", "0", "--webhook", hookUrl, "--webhook-secret-file", secretFile],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  try {
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    await waitFor("listening", () => /listening on (http:\/\/\S+)/.test(out), 10_000);
    await waitFor("webhook target announced", () => out.includes(`workflow_job deliveries to ${hookUrl}`), 5_000);
    expect(out).not.toContain("cli-webhook-secret");
    const url = /listening on (http:\/\/\S+)/.exec(out)![1]!;
    const q = await fetch(`${url}/_sim/runs`, {
      method: "POST",
      body: JSON.stringify({ jobs: [{ name: "b", labels: ["nix"], waitsForApproval: true }] }),
    });
    expect(q.status).toBe(201);
    const { jobs } = (await q.json()) as { jobs: { id: number }[] };
    await fetch(`${url}/_sim/jobs/${jobs[0]!.id}/cancel`, { method: "POST" });
    await waitFor("three deliveries", () => received.length >= 3, 10_000);
    expect(received).toEqual([
      { action: "waiting", signed: true },
      { action: "queued", signed: true },
      { action: "completed", signed: true },
    ]);
  } finally {
    child.kill("SIGINT");
    await new Promise((r) => child.on("exit", r));
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
  const missing = spawnSync(process.execPath, [CLI, "simulate", "--webhook", hookUrl], { encoding: "utf8" });
  expect(missing.status).toBe(2);
  expect(missing.stderr).toMatch(/--webhook needs --webhook-secret-file/);
});
