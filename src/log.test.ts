import { describe, expect, it } from "vitest";
import { createLogger } from "./log.js";
import { Redactor } from "./util/redact.js";

describe("createLogger", () => {
  it("scrubs every line, of children too, with the redactor it is given", () => {
    const lines: string[] = [];
    const mine = new Redactor();
    const other = new Redactor();
    mine.add("secret-of-mine-123");
    other.add("secret-of-another-456");
    const log = createLogger({ sink: { write: (l) => lines.push(l) }, redactor: mine });
    log.info("got secret-of-mine-123", { also: "secret-of-another-456" });
    log.child({ c: "x" }).warn("child secret-of-mine-123");
    expect(lines[0]).toBe("info  got [REDACTED] also=secret-of-another-456\n");
    expect(lines[1]).toBe("warn  child [REDACTED] c=x\n");
  });
});

describe("createLogger's JSON lines", () => {
  it("carry the time of the clock it is given", () => {
    const lines: string[] = [];
    const clock = { now: () => Date.UTC(2030, 0, 2, 3, 4, 5), sleep: () => Promise.resolve() };
    createLogger({ format: "json", sink: { write: (l) => lines.push(l) }, clock }).info("hello", { n: 1 });
    expect(JSON.parse(lines[0]!)).toEqual({
      time: "2030-01-02T03:04:05.000Z",
      level: "info",
      msg: "hello",
      n: 1,
    });
  });
});
