/**
 * The kinds of value a configuration variable can hold. A kind parses one raw value and says,
 * for the README, which values it accepts; the error it reports names the problem and the fix,
 * and parse.ts puts the variable's name and value in front.
 */
import { isAbsolute, resolve } from "node:path";
import { normalizeLabels } from "../domain/labels.js";
import { parseSubnetRange, type SubnetRange } from "../domain/subnets.js";
import { showValue } from "./show-value.js";

/** Why a value was refused and what to set instead. */
export class Problem {
  constructor(
    readonly problem: string,
    readonly fix: string,
  ) {}
}

export interface Kind<T> {
  /** The accepted values, for the README's table (Markdown). */
  readonly values: string;
  /** A blank value is handed to parse (a list: blank is the empty list) instead of counting as unset. */
  readonly keepsBlank?: boolean;
  /** Parse a raw value; `dflt` is the variable's default as written (for the fix), if it has one. */
  parse(raw: string, dflt: string | undefined): T | Problem;
}

/** " (N days)" for a whole number of days of at least two, else nothing. */
function inDays(secs: number): string {
  const days = secs / 86400;
  return Number.isInteger(days) && days >= 2 ? ` (${days} days)` : "";
}

/** A decimal number of seconds from `min` to `max`, in milliseconds. */
export function seconds(min: number, max: number): Kind<number> {
  return {
    values: `seconds (decimals allowed), ${min} to ${max}${inDays(max)}`,
    parse(raw, dflt) {
      const s = raw.trim();
      if (!/^\d+(\.\d+)?$/.test(s)) {
        return new Problem(
          "is not a number of seconds",
          `set it to a decimal number of seconds such as ${dflt ?? max}`,
        );
      }
      const v = Number(s);
      if (!(v >= min && v <= max)) {
        const d = dflt === undefined ? "" : ` (default ${dflt})`;
        return new Problem("is out of range", `use a value from ${min} to ${max} seconds${d}`);
      }
      return Math.round(v * 1000);
    },
  };
}

/** A whole number from `min` to `max`. */
export function integer(min: number, max: number): Kind<number> {
  return {
    values: `integer, ${min} to ${max}`,
    parse(raw, dflt) {
      const s = raw.trim();
      const d = dflt === undefined ? "" : ` (default ${dflt})`;
      if (!/^\d+$/.test(s))
        return new Problem("is not a whole number", `set it to an integer from ${min} to ${max}${d}`);
      const v = Number(s);
      if (v < min || v > max)
        return new Problem("is out of range", `use an integer from ${min} to ${max}${d}`);
      return v;
    },
  };
}

/** One of a fixed set of words. */
export function oneOf<const T extends string>(...allowed: readonly T[]): Kind<T> {
  return {
    values: allowed.map((a) => `\`${a}\``).join(", "),
    parse(raw) {
      const s = raw.trim();
      return (allowed as readonly string[]).includes(s)
        ? (s as T)
        : new Problem("is not a known value", `use one of: ${allowed.join(", ")}`);
    },
  };
}

/** `true` or `false`. */
export const flag: Kind<boolean> = {
  values: "`true`, `false`",
  parse(raw) {
    const v = oneOf("true", "false").parse(raw, undefined);
    return v instanceof Problem ? v : v === "true";
  },
};

const OWNER_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const REPO_RE = /^[A-Za-z0-9._-]{1,100}$/;

/** A GitHub repository, owner/repo. */
export const repository: Kind<{ readonly owner: string; readonly name: string; readonly fullName: string }> =
  {
    values: "`owner/repo`",
    parse(raw) {
      const parts = raw.trim().split("/");
      const [owner, name] = parts;
      if (
        parts.length !== 2 ||
        !owner ||
        !name ||
        !OWNER_RE.test(owner) ||
        !REPO_RE.test(name) ||
        name === "." ||
        name === ".."
      ) {
        return new Problem(
          "is not a repository of the form owner/repo",
          "set it like GITHUB_REPO=octo-org/octo-repo",
        );
      }
      return Object.freeze({ owner, name, fullName: `${owner}/${name}` });
    },
  };

/** A GitHub organization (or user) login. */
export const organization: Kind<string> = {
  values: "organization login",
  parse(raw) {
    const s = raw.trim();
    if (!OWNER_RE.test(s)) {
      return new Problem(
        "is not an organization login",
        "set it like GITHUB_ORG=octo-org (no slash, no URL)",
      );
    }
    return s;
  },
};

/** GITHUB_REPOS: repository names of the organization (no owner), or `*` for every one. */
export const repositoryNames: Kind<readonly string[] | "all"> = {
  values: "comma-separated repository names, or `*` (every repository of the organization)",
  parse(raw) {
    const s = raw.trim();
    if (s === "*") return "all";
    const names = s.split(",").map((n) => n.trim());
    const bad = names.find((n) => !REPO_RE.test(n) || n === "." || n === "..");
    if (bad !== undefined) {
      return new Problem(
        `holds ${showValue(bad)}, which is not a repository name`,
        "list repository names of the organization without the owner, e.g. GITHUB_REPOS=api,web, or * for all",
      );
    }
    return Object.freeze([...new Set(names)]);
  },
};

/** A name as GitHub shows it (a runner group), any characters but control characters. */
export const displayName: Kind<string> = {
  values: "name",
  parse(raw) {
    const s = raw.trim();
    if (!s || s.length > 200 || [...s].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)) {
      return new Problem("is not a usable name", "give the name as GitHub shows it, e.g. Default");
    }
    return s;
  },
};

/** A positive decimal id (a GitHub App's or installation's). */
export const numericId: Kind<number> = {
  values: "positive integer",
  parse(raw) {
    const s = raw.trim();
    const n = Number(s);
    if (!/^[0-9]{1,15}$/.test(s) || !Number.isSafeInteger(n) || n < 1) {
      return new Problem("is not a positive integer id", "copy the number from the App's settings page");
    }
    return n;
  },
};

/** A file system path; a relative one is taken from the working directory. */
export const filePath: Kind<string> = {
  values: "file system path (a relative one is taken from the working directory)",
  parse(raw) {
    const s = raw.trim();
    if (!s || /[\0\n\r]/.test(s)) return new Problem("is not a usable path", "give a file system path");
    return isAbsolute(s) ? s : resolve(s);
  },
};

/** An absolute path of an executable, run without arguments and without a shell. */
export const executable: Kind<string> = {
  values: "absolute path",
  parse(raw) {
    const s = raw.trim();
    if (!isAbsolute(s) || /[\0\n\r]/.test(s)) {
      return new Problem(
        "is not an absolute path to an executable",
        "give e.g. /opt/actions-runner/run.sh (no arguments; it is run without a shell)",
      );
    }
    return s;
  },
};

const NIX_PATH_RE = /^\/[A-Za-z0-9._+/-]*$/;

/**
 * A path that nixos-container splices into Nix code (`imports = [ PATH ];`) or hands to
 * nix-env: absolute, plain characters only, no `..`. A trailing slash is dropped.
 */
export function nixPath(fix: string): Kind<string> {
  return {
    values: "absolute path of letters, digits and `._+-/`",
    parse(raw) {
      const s = raw.trim();
      if (!NIX_PATH_RE.test(s) || s.split("/").includes("..")) {
        return new Problem("is not a plain absolute path (letters, digits and . _ + - / only)", fix);
      }
      return s.length > 1 ? s.replace(/\/+$/, "") : s;
    },
  };
}

/** A systemd resource value matching `re`, or `none` (null) for no limit. */
export function limit(re: RegExp, example: string): Kind<string | null> {
  return {
    values: `e.g. ${example}, or \`none\``,
    parse(raw, dflt) {
      const s = raw.trim();
      if (s === "none") return null;
      if (re.test(s)) return s;
      const d = dflt === undefined ? "" : ` (default ${dflt})`;
      return new Problem(
        "is not a value this limit accepts",
        `use e.g. ${example.replace(/`/g, "")}${d}, or none for no limit`,
      );
    },
  };
}

/** An http(s) API base URL, without a trailing slash. */
export const apiUrl: Kind<string> = {
  values: "http(s) URL",
  parse(raw) {
    let u: URL;
    try {
      u = new URL(raw.trim());
    } catch {
      return new Problem(
        "is not a URL",
        "use e.g. https://api.github.com or https://ghes.example.com/api/v3",
      );
    }
    if (u.protocol !== "https:" && u.protocol !== "http:") {
      return new Problem("is not an http(s) URL", "use e.g. https://api.github.com");
    }
    if (u.username || u.password || u.search || u.hash) {
      return new Problem("must not carry credentials, a query or a fragment", "give the bare API base URL");
    }
    return u.toString().replace(/\/+$/, "");
  },
};

/** An IP address or host name to bind to. */
export const host: Kind<string> = {
  values: "IP address or host name",
  parse(raw) {
    const s = raw.trim();
    if (!/^[A-Za-z0-9.:-]{1,253}$/.test(s)) {
      return new Problem("is not an IP address or host name", "use e.g. 127.0.0.1 (default), ::1 or 0.0.0.0");
    }
    return s;
  },
};

/** A comma-separated list of runner labels (trimmed, de-duplicated case-insensitively). */
export const labels: Kind<readonly string[]> = {
  values: "comma-separated labels",
  keepsBlank: true,
  parse(raw) {
    const list = normalizeLabels(raw);
    return typeof list === "string"
      ? new Problem(list, "give a comma-separated list such as self-hosted,nix,x64,Linux")
      : Object.freeze(list);
  },
};

const PREFIX_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$/;

/** The prefix of runner names. */
export const namePrefix: Kind<string> = {
  values: "1–50 of `A-Za-z0-9._-`, starting with a letter or digit",
  parse(raw) {
    const s = raw.trim();
    return PREFIX_RE.test(s)
      ? s
      : new Problem(
          "is not a usable runner name prefix",
          "use 1-50 characters of letters, digits, '.', '_' or '-', starting with a letter or digit",
        );
  },
};

const NSPAWN_FLAG_RE = /^--[a-z][a-z0-9-]*(?:=[A-Za-z0-9_@%+=:,./-]*)?$/;

/** systemd-nspawn long options separated by whitespace, each passable through the unit unquoted. */
export const nspawnFlags: Kind<readonly string[]> = {
  values: "`--name` or `--name=value`, separated by spaces",
  keepsBlank: true,
  parse(raw) {
    const flags = raw.split(/\s+/).filter((f) => f !== "");
    const bad = flags.find((f) => !NSPAWN_FLAG_RE.test(f));
    if (bad !== undefined) {
      return new Problem(
        `has ${showValue(bad)}, which cannot be passed through: the container unit splits the list on whitespace and takes no quoting`,
        "give long options as --name or --name=value, separated by spaces, with no quotes, spaces or $ inside a value",
      );
    }
    return Object.freeze(flags);
  },
};

/** A colon-separated search path, taken as it is. */
export const searchPath: Kind<string> = {
  values: "directories separated by `:`",
  parse(raw) {
    return /[\0\n\r]/.test(raw)
      ? new Problem("is not a usable search path", "give directories separated by ':'")
      : raw.trim();
  },
};

/** One read-only bind: an absolute host path, and where it appears in the container (the same path by default). */
export interface BindMount {
  readonly host: string;
  readonly container: string;
}

const BIND_PATH_RE = /^\/[A-Za-z0-9._+@/-]*$/;

/** A comma list of `HOST[:CONTAINER]` absolute paths (systemd-nspawn `--bind-ro=`). */
export const bindList: Kind<readonly BindMount[]> = {
  values: "comma-separated `HOST[:CONTAINER]` absolute paths",
  keepsBlank: true,
  parse(raw) {
    const out: BindMount[] = [];
    for (const item of raw.split(",").map((s) => s.trim())) {
      if (item === "") continue;
      const [hostPath, containerPath, extra] = item.split(":");
      const inside = containerPath ?? hostPath;
      const plain = (p: string | undefined): p is string =>
        p !== undefined && BIND_PATH_RE.test(p) && !p.split("/").includes("..");
      if (extra !== undefined || !plain(hostPath) || !plain(inside)) {
        return new Problem(
          `has ${showValue(item)}, which is not HOST or HOST:CONTAINER with absolute paths`,
          "give e.g. /nix/store,/var/cache/ci:/cache (letters, digits and ._+@-/ only, no ..)",
        );
      }
      out.push(Object.freeze({ host: hostPath, container: inside }));
    }
    return Object.freeze(out);
  },
};

/** A range of IPv4 /24 networks, `FIRST/24-LAST/24`, first to last inclusive. */
export const subnetRange: Kind<SubnetRange> = {
  values: "`A.B.C.0/24-D.E.F.0/24` (first ≤ last, both `/24`)",
  parse(raw, dflt) {
    const r = parseSubnetRange(raw);
    return typeof r === "string"
      ? new Problem(r, `give a range of /24 networks such as ${dflt ?? "10.10.0.0/24-10.10.63.0/24"}`)
      : r;
  },
};
