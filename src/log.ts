import { systemClock, type Clock } from "./clock.js";
import { redactor as sharedRedactor, type Redactor } from "./util/redact.js";

export type LogLevel = "debug" | "info" | "warn" | "error";
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(bindings: LogFields): Logger;
}

export interface LogSink {
  write(line: string): void;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: "json" | "text";
  sink?: LogSink;
  /** Scrubs every line. Default: the process-wide instance (until every caller passes one). */
  redactor?: Redactor;
  /** The time of JSON lines. Default: the system clock. */
  clock?: Clock;
}

function safeValue(v: unknown): unknown {
  if (v instanceof Error) return v.message;
  return v;
}

/**
 * A small structured logger. Text format for people (journald adds its own timestamps),
 * JSON for machines. Every line goes through the redactor it is given.
 */
export function createLogger(options: LoggerOptions = {}, bindings: LogFields = {}): Logger {
  const min = LEVELS[options.level ?? "info"];
  const format = options.format ?? "text";
  const sink: LogSink = options.sink ?? { write: (line) => process.stderr.write(line) };
  const redactor = options.redactor ?? sharedRedactor;
  const clock = options.clock ?? systemClock;

  const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (LEVELS[level] < min) return;
    const all: LogFields = { ...bindings, ...fields };
    let line: string;
    if (format === "json") {
      const obj: LogFields = { time: new Date(clock.now()).toISOString(), level, msg };
      for (const [k, v] of Object.entries(all)) obj[k] = safeValue(v);
      line = JSON.stringify(obj);
    } else {
      const parts = Object.entries(all)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => {
          const safe = safeValue(v);
          const text = typeof safe === "string" ? safe : JSON.stringify(safe);
          return `${k}=${text !== undefined && /[\s"=]/.test(text) ? JSON.stringify(text) : text}`;
        });
      line = `${level.padEnd(5)} ${msg}${parts.length ? " " + parts.join(" ") : ""}`;
    }
    sink.write(redactor.scrub(line.replace(/\n/g, "\\n")) + "\n");
  };

  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (b) => createLogger(options, { ...bindings, ...b }),
  };
}

/** A logger that drops everything (tests, library defaults). */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
