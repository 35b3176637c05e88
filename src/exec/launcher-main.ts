/**
 * The launcher: a small process the daemon starts once, which starts the runners for it, so that
 * Node's synchronous fork/exec happens here instead of on the daemon's event loop.
 *
 * Protocol, one JSON object per line. In (stdin): {id, file, args, cwd, env, outputPath}. Out
 * (stdout): {id, pid} once the runner has started or {id, error} if it could not (with output:
 * true and the errno when it was the output file that could not be opened); later
 * {exit: pid, code, signal} when it ends. A request's env holds the runner's secret, so this
 * process never prints a request or anything taken from one but the error message of a spawn.
 *
 * Each runner gets its own session and process group (it outlives this process), its output
 * appended to outputPath (made 0600). When stdin ends — the daemon is gone — this process exits;
 * its runners keep running.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { createInterface } from "node:readline";

interface Request {
  readonly id: number;
  readonly file: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Record<string, string>;
  readonly outputPath: string;
}

function send(message: object): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function parse(line: string): Request | null {
  try {
    const r = JSON.parse(line) as Partial<Request>;
    if (typeof r.id !== "number" || typeof r.file !== "string" || typeof r.cwd !== "string") return null;
    if (typeof r.outputPath !== "string" || typeof r.env !== "object" || r.env === null) return null;
    return { ...r, args: Array.isArray(r.args) ? r.args.map(String) : [] } as Request;
  } catch {
    return null;
  }
}

function launch(request: Request): void {
  let fd: number;
  try {
    fd = openSync(request.outputPath, "a", 0o600);
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code;
    send({ id: request.id, error: (e as Error).message, output: true, ...(errno ? { errno } : {}) });
    return;
  }
  try {
    const child = spawn(request.file, [...request.args], {
      cwd: request.cwd,
      env: request.env,
      stdio: ["ignore", fd, fd],
      detached: true,
      shell: false,
    });
    // A pid means the program was executed (Node waits for that): reply now, not on the next
    // tick, or a batch of requests would all wait for the last of them.
    const pid = child.pid;
    if (pid !== undefined) send({ id: request.id, pid });
    child.on("error", (e) => {
      if (pid === undefined) send({ id: request.id, error: e.message });
    });
    child.once("exit", (code, signal) => {
      if (pid !== undefined) send({ exit: pid, code, signal });
    });
  } catch (e) {
    send({ id: request.id, error: (e as Error).message });
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(fd);
  }
}

// Ctrl-C in a terminal reaches the whole foreground group: the daemon decides when to stop.
process.on("SIGINT", () => {});
process.stdout.on("error", () => process.exit(0));
const input = createInterface({ input: process.stdin });
input.on("line", (line) => {
  const request = parse(line);
  if (request) launch(request);
  else process.stderr.write("launcher: ignoring a malformed request\n");
});
input.on("close", () => process.exit(0));
