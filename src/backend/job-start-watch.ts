/**
 * Seeing a runner take its job as it happens. The official runner writes
 * `<time>: Running job: <name>` to its terminal when a job starts (actions/runner,
 * Runner.Listener/JobDispatcher.cs); with its output in a file, a watch on that file (inotify, no
 * timer) tells the backend at once — so a warm-pool runner that takes a job is replaced now, not
 * at the next poll.
 */
import { closeSync, openSync, readSync, watch, type FSWatcher } from "node:fs";

const JOB_STARTED = /: Running job: /;
/** Enough of the log to find the line; the runner's output before a job is a few hundred bytes. */
const MAX_SCAN_BYTES = 256 * 1024;

export interface JobStartWatch {
  close(): void;
}

/**
 * Call `onStarted` once, when `logFile` gains the runner's "Running job" line. The log is a small
 * file of our own in STATE_DIR and what is new in it is read synchronously: a few microseconds,
 * where the promise API cost the daemon's loop ~1 ms per runner in the burst benchmark.
 */
export function watchJobStart(logFile: string, onStarted: () => void): JobStartWatch {
  let offset = 0;
  let pending = "";
  let done = false;
  let watcher: FSWatcher | null = null;
  // Open from the first scan to the end of the watch: a runner's every write is one scan.
  let fd: number | null = null;
  let buffer: Buffer | null = null;

  const close = (): void => {
    done = true;
    watcher?.close();
    watcher = null;
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {
        /* nothing to let go of */
      }
    }
    fd = null;
    buffer = null;
  };
  const scan = (): void => {
    if (done) return;
    try {
      fd ??= openSync(logFile, "r");
      buffer ??= Buffer.allocUnsafe(16 * 1024);
      for (;;) {
        const bytesRead = readSync(fd, buffer, 0, buffer.length, offset);
        if (bytesRead === 0) return;
        offset += bytesRead;
        pending = (pending + buffer.subarray(0, bytesRead).toString("utf8")).slice(-4096);
        if (JOB_STARTED.test(pending)) {
          close();
          onStarted();
          return;
        }
        if (offset > MAX_SCAN_BYTES) return close();
      }
    } catch {
      close(); // The log is gone: so is the runner.
    }
  };
  try {
    watcher = watch(logFile, { persistent: false }, scan);
    watcher.on("error", close);
  } catch {
    return { close };
  }
  // Not from within this call: the caller finishes recording the runner before it can be told.
  queueMicrotask(scan);
  return { close };
}
