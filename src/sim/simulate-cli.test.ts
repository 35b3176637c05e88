/** `runner-controller simulate` with several repositories and a GitHub App whose key it writes out. */
import { createPrivateKey } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { simulate } from "../cli/simulate.js";

const dir = mkdtempSync(join(tmpdir(), "sim-cli-"));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it("adds repositories and writes the App's private key with mode 600", async () => {
  const keyFile = join(dir, "app.pem");
  const lines: string[] = [];
  const done = simulate(
    {
      host: "127.0.0.1",
      port: 0,
      repo: "acme/widgets",
      token: "t0ken",
      extraRepositories: 3,
      app: { keyFile, id: 99, installationTokenTtlMs: 60_000 },
    },
    (l) => lines.push(l),
  );
  for (let i = 0; i < 100 && !lines.some((l) => l.includes("REST API base")); i++)
    await new Promise((r) => setTimeout(r, 20));
  const url = /listening on (http:\/\/\S+)/.exec(lines.join("\n"))![1]!;
  try {
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(createPrivateKey(readFileSync(keyFile, "utf8")).asymmetricKeyType).toBe("rsa");
    expect(lines.join("\n")).toContain(`GITHUB_APP_ID=99 GITHUB_APP_PRIVATE_KEY_FILE=${keyFile}`);
    const repos = await fetch(`${url}/orgs/acme/repos?sort=full_name&direction=asc`, {
      headers: { authorization: "token t0ken" },
    });
    const names = ((await repos.json()) as { name: string }[]).map((r) => r.name);
    expect(names).toEqual(["repo-1", "repo-2", "repo-3", "widgets"]);
  } finally {
    process.emit("SIGINT");
  }
  expect(await done).toBe(0);
});
