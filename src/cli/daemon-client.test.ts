import { createServer } from "node:http";
import { describe, expect, it } from "vitest";
import { daemonUrl, fetchStatus, requestCleanup } from "./daemon-client.js";
import { duration, table } from "./table.js";

describe("daemonUrl", () => {
  it("reaches a wildcard bind address on loopback and brackets IPv6", () => {
    expect(daemonUrl("127.0.0.1", 8080)).toBe("http://127.0.0.1:8080");
    expect(daemonUrl("0.0.0.0", 8080)).toBe("http://127.0.0.1:8080");
    expect(daemonUrl("::", 9000)).toBe("http://[::1]:9000");
    expect(daemonUrl("::1", 9000)).toBe("http://[::1]:9000");
    expect(daemonUrl("ci-01.lan", 80)).toBe("http://ci-01.lan:80");
  });
});

describe("fetchStatus", () => {
  it("reports something that is not runner-controller as unreachable, with why", async () => {
    const server = createServer((_req, res) => res.end("<html>hello</html>"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      const s = await fetchStatus(`http://127.0.0.1:${port}`);
      expect(s).toEqual({
        reachable: false,
        url: `http://127.0.0.1:${port}`,
        error: "something answered 200, but not runner-controller's /status",
      });
    } finally {
      server.close();
    }
  });
});

describe("requestCleanup", () => {
  it("says nobody answers when there is no socket", async () => {
    expect(await requestCleanup("/nonexistent/control.sock")).toEqual({
      answered: false,
      why: "no control socket",
    });
  });
});

describe("table and duration", () => {
  it("pads columns to the widest cell", () => {
    expect(
      table(
        ["A", "BB"],
        [
          ["xxx", "y"],
          ["z", "w"],
        ],
      ),
    ).toEqual(["  A    BB", "  xxx  y", "  z    w"]);
  });
  it("formats seconds for people", () => {
    expect([duration(45), duration(145), duration(7300)]).toEqual(["45s", "2m25s", "2h01m"]);
  });
});
