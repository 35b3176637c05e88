/**
 * Seeing a runner take its job as it happens. The official runner writes
 * `<time>: Running job: <name>` to its terminal when a job starts (actions/runner,
 * Runner.Listener/JobDispatcher.cs); with its output in a file, a watch on that file (inotify, no
 * timer) tells the backend at once — so a warm-pool runner that takes a job is replaced now, not
 * at the next poll.
 */
import { watch, type FSWatcher } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";

const JOB_STARTED = /: Running job: /;
/** Enough of the log to find the line; the runner's output before a job is a few hundred bytes. */
const MAX_SCAN_BYTES = 256 * 1024;

export interface JobStartWatch {
  close(): void;
}

/** Call `onStarted` once, when `logFile` gains the runner's "Running job" line. */
export function watchJobStart(logFile: string, onStarted: () => void): JobStartWatch {
  let offset = 0;
  let pending = "";
  let done = false;
  let reading = false;
  let again = false;
  let watcher: FSWatcher | null = null;
  // Open from the first scan to the end of the watch: a runner's every write is one scan.
  let file: FileHandle | null = null;
  let buffer: Buffer | null = null;

  const release = (): void => {
    void file?.close().catch(() => {});
    file = null;
    buffer = null;
  };
  const close = (): void => {
    done = true;
    watcher?.close();
    watcher = null;
    if (!reading) release();
  };
  const scan = async (): Promise<void> => {
    if (done) return;
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      file ??= await open(logFile, "r");
      buffer ??= Buffer.allocUnsafe(16 * 1024);
      for (;;) {
        const { bytesRead } = await file.read(buffer, 0, buffer.length, offset);
        if (bytesRead === 0) break;
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
    } finally {
      reading = false;
      if (done) release();
      else if (again) {
        again = false;
        void scan();
      }
    }
  };
  try {
    watcher = watch(logFile, { persistent: false }, () => void scan());
    watcher.on("error", close);
  } catch {
    return { close };
  }
  void scan();
  return { close };
}
