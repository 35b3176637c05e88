/**
 * A strict reader of Prometheus' text exposition format (version 0.0.4), for tests: every line
 * must be a HELP, a TYPE or a sample, every sample's family must have been typed, values must be
 * numbers. Throws on anything else.
 */

export interface PromText {
  /** Family name → type (counter, gauge, histogram, summary, untyped). */
  readonly types: Map<string, string>;
  /** `name{label="v",…}` exactly as written → value. */
  readonly samples: Map<string, number>;
  /** The value of a series by name and labels (label order as written by prom-client: as declared). */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
const SAMPLE = new RegExp(`^(${NAME})(\\{(?:${LABEL})(?:,${LABEL})*,?\\})? (\\S+)(?: -?\\d+)?$`);

function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of ["_bucket", "_sum", "_count", "_total", "_created"]) {
    if (name.endsWith(suffix) && types.has(name.slice(0, -suffix.length)))
      return name.slice(0, -suffix.length);
  }
  return undefined;
}

export function parsePromText(text: string): PromText {
  const types = new Map<string, string>();
  const samples = new Map<string, number>();
  const lines = text.split("\n");
  if (lines.at(-1) !== "") throw new Error("the exposition does not end with a newline");
  for (const [i, line] of lines.slice(0, -1).entries()) {
    if (line === "") continue;
    const where = `line ${i + 1}: ${line}`;
    if (line.startsWith("# HELP ")) {
      if (!new RegExp(`^# HELP ${NAME} `).test(line)) throw new Error(`bad HELP, ${where}`);
      continue;
    }
    if (line.startsWith("# TYPE ")) {
      const m = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
      if (!m) throw new Error(`bad TYPE, ${where}`);
      if (types.has(m[1]!)) throw new Error(`family typed twice, ${where}`);
      types.set(m[1]!, m[2]!);
      continue;
    }
    if (line.startsWith("#")) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a sample, ${where}`);
    if (familyOf(m[1]!, types) === undefined) throw new Error(`sample of an untyped family, ${where}`);
    const raw = m[3]!;
    // As Prometheus reads it (Go's ParseFloat): Inf and NaN in any letter case; prom-client writes "Nan".
    const special = raw.toLowerCase();
    const value =
      special === "+inf" || special === "inf"
        ? Infinity
        : special === "-inf"
          ? -Infinity
          : special === "nan"
            ? NaN
            : Number(raw);
    if (special !== "nan" && Number.isNaN(value)) throw new Error(`value is not a number, ${where}`);
    const key = m[1]! + (m[2] ?? "");
    if (samples.has(key)) throw new Error(`duplicate series, ${where}`);
    samples.set(key, value);
  }
  return {
    types,
    samples,
    value: (name, labels = {}) => {
      const entries = Object.entries(labels);
      for (const [key, v] of samples) {
        const brace = key.indexOf("{");
        const n = brace === -1 ? key : key.slice(0, brace);
        if (n !== name) continue;
        const body = brace === -1 ? "" : key.slice(brace + 1, -1);
        const have = new Map(
          [...body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]),
        );
        if (have.size === entries.length && entries.every(([k, val]) => have.get(k) === val)) return v;
      }
      return undefined;
    },
  };
}
