import { afterEach, describe, expect, it } from "vitest";
import { advertisedUrl, httpUrl, reachableHost } from "./advertise.js";
import { decodeJitConfig } from "./jitconfig.js";
import { startSimulator, type Simulator } from "./server.js";

describe("the address the simulator advertises", () => {
  it("replaces a wildcard address with loopback of the same family", () => {
    expect(reachableHost("0.0.0.0")).toBe("127.0.0.1");
    expect(reachableHost("::")).toBe("::1");
    expect(reachableHost("[::]")).toBe("::1");
    expect(reachableHost("192.168.1.2")).toBe("192.168.1.2");
    expect(reachableHost("::1")).toBe("::1");
    expect(advertisedUrl("0.0.0.0", 8090)).toBe("http://127.0.0.1:8090");
    expect(advertisedUrl("::", 8090)).toBe("http://[::1]:8090");
    expect(advertisedUrl("0.0.0.0", 8090, "runners.example")).toBe("http://runners.example:8090");
    expect(advertisedUrl("::", 1, "fd00::2")).toBe("http://[fd00::2]:1");
    expect(httpUrl("[fe80::1]", 2)).toBe("http://[fe80::1]:2");
  });

  let sim: Simulator | undefined;
  afterEach(async () => {
    await sim?.stop();
    sim = undefined;
  });

  async function jitServerUrl(s: Simulator): Promise<string> {
    const res = await fetch(`${s.listenUrl}/repos/${s.fullName}/actions/runners/generate-jitconfig`, {
      method: "POST",
      headers: { authorization: "token sim-token", "content-type": "application/json" },
      body: JSON.stringify({ name: "r1", runner_group_id: 1, labels: ["self-hosted"] }),
    });
    expect(res.status).toBe(201);
    const { encoded_jit_config } = (await res.json()) as { encoded_jit_config: string };
    return decodeJitConfig(encoded_jit_config).serverUrl;
  }

  it("writes the advertised host into JIT configs, links and its own url", async () => {
    sim = await startSimulator({ host: "127.0.0.1", advertiseHost: "runners.example" });
    const port = new URL(sim.listenUrl).port;
    expect(sim.listenUrl).toBe(`http://127.0.0.1:${port}`);
    expect(sim.url).toBe(`http://runners.example:${port}`);
    expect(await jitServerUrl(sim)).toBe(`http://runners.example:${port}`);
    for (let i = 0; i < 3; i++) sim.queueRun({ jobs: [{ name: `j${i}`, labels: ["self-hosted"] }] });
    const page = await fetch(`${sim.listenUrl}/repos/${sim.fullName}/actions/runs?per_page=1`, {
      headers: { authorization: "token sim-token" },
    });
    expect(page.headers.get("link")).toContain(`<http://runners.example:${port}/repos/`);
  });

  it("by default advertises the address it listens on", async () => {
    sim = await startSimulator({ host: "127.0.0.1" });
    expect(sim.url).toBe(sim.listenUrl);
    expect(await jitServerUrl(sim)).toBe(sim.listenUrl);
  });
});
