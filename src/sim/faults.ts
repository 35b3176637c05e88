/**
 * Scripted faults for the simulator's REST API: rules that pick requests by method and path and
 * answer them with an error status, a reset connection, silence, malformed or oversized JSON, a
 * delay, or a lost response (the request takes effect, the client sees a 502).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { errorJson } from "./fixtures.js";
import { sendJsonText } from "./http.js";

export interface FaultRule {
  /** HTTP method to match (default any). */
  readonly method?: string;
  /** Regular expression source matched against the path (without query). Default: every REST path. */
  readonly path?: string;
  /** What to do: answer with `status`, reset the connection, never answer, answer malformed JSON, or only delay. */
  readonly action?: "respond" | "reset" | "hang" | "malformed" | "delay" | "oversized" | "lose-response";
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly delayMs?: number;
  /** Apply to this many matching requests (default: all). */
  readonly times?: number;
  /** Let this many matching requests through first. */
  readonly after?: number;
}

interface ActiveFault extends FaultRule {
  seen: number;
  applied: number;
  readonly re: RegExp | null;
}

/** How a fault answered: the status to record (0: no answer) and whether it counts against the rate limit. */
export interface FaultAnswer {
  readonly status: number;
  readonly counted: boolean;
}

export class FaultScript {
  #rules: ActiveFault[] = [];
  /** Requests a "hang" fault holds open, until the faults are cleared or the simulator stops. */
  readonly #hung = new Set<ServerResponse>();

  add(rule: FaultRule): void {
    this.#rules.push({ ...rule, seen: 0, applied: 0, re: rule.path ? new RegExp(rule.path) : null });
  }

  clear(): void {
    this.#rules = [];
    this.releaseHung();
  }

  releaseHung(): void {
    for (const r of this.#hung) r.destroy();
    this.#hung.clear();
  }

  /** The first rule that applies to this request, counting it as seen (and applied) by that rule. */
  match(method: string, path: string): FaultRule | null {
    for (const f of this.#rules) {
      if (f.method && f.method.toUpperCase() !== method) continue;
      if (f.re ? !f.re.test(path) : !path.startsWith("/repos/")) continue;
      f.seen++;
      if (f.after !== undefined && f.seen <= f.after) continue;
      if (f.times !== undefined && f.applied >= f.times) continue;
      f.applied++;
      return f;
    }
    return null;
  }

  /**
   * Carries the fault out. Returns how it answered, or null when the request goes on to be
   * handled normally ("delay", and "lose-response", whose error replaces the real answer later).
   */
  async apply(fault: FaultRule, req: IncomingMessage, res: ServerResponse): Promise<FaultAnswer | null> {
    if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    const action = fault.action ?? (fault.status ? "respond" : "delay");
    switch (action) {
      case "reset":
        req.socket.destroy();
        return { status: 0, counted: false };
      case "hang":
        this.#hung.add(res);
        res.on("close", () => this.#hung.delete(res));
        return { status: 0, counted: false };
      case "malformed": {
        sendJsonText(res, 200, '{"total_count": 3, "workflow_runs": [{"id": 1, "na');
        return { status: 200, counted: true };
      }
      case "oversized": {
        const item = { id: 1, name: "x".repeat(1000) };
        const text = JSON.stringify({
          total_count: 20000,
          workflow_runs: Array.from({ length: 20000 }, () => item),
          jobs: [],
          runners: [],
        });
        res.writeHead(200, { "content-type": "application/json; charset=utf-8" });
        res.end(text);
        return { status: 200, counted: true };
      }
      case "respond": {
        const status = fault.status ?? 500;
        const body =
          fault.body ?? JSON.stringify(errorJson(status >= 500 ? "Server Error" : "Fault injected", status));
        res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...fault.headers });
        res.end(body);
        return { status, counted: true };
      }
      case "delay":
      case "lose-response":
        return null;
    }
  }
}
