/**
 * A small router for the simulator: a route is a method and a path pattern. A pattern's segments
 * are literal, `:name` (one segment), `:name(regex)` (one segment matching regex, e.g. `\d+`) or,
 * last, `*name` (the rest of the path, one segment or more). Named values arrive decoded.
 *
 * `match` tells apart a path no route knows (not-found) from a known path asked with a method it
 * does not answer (method-not-allowed, with the methods it does answer, for an Allow header).
 */

export type Params = Readonly<Record<string, string>>;

export type RouteMatch<H> =
  | { readonly kind: "found"; readonly handler: H; readonly params: Params; readonly pattern: string }
  | { readonly kind: "method-not-allowed"; readonly allow: readonly string[] }
  | { readonly kind: "not-found" };

interface CompiledRoute<H> {
  readonly method: string;
  readonly pattern: string;
  readonly re: RegExp;
  readonly names: readonly string[];
  readonly handler: H;
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Compiles a pattern to an anchored regular expression and the names of its captures, in order. */
export function compilePattern(pattern: string): { re: RegExp; names: string[] } {
  if (!pattern.startsWith("/")) throw new Error(`route pattern ${JSON.stringify(pattern)} must start with /`);
  const names: string[] = [];
  const segments = pattern.slice(1).split("/");
  const parts = segments.map((segment, i) => {
    const param = /^:([A-Za-z_]\w*)(?:\((.+)\))?$/.exec(segment);
    if (param) {
      names.push(param[1]!);
      return `(${param[2] ?? "[^/]+"})`;
    }
    const rest = /^\*([A-Za-z_]\w*)$/.exec(segment);
    if (rest) {
      if (i !== segments.length - 1) throw new Error(`${pattern}: *${rest[1]} must be the last segment`);
      names.push(rest[1]!);
      return "(.+)";
    }
    if (segment.includes(":") || segment.includes("*"))
      throw new Error(`${pattern}: cannot read segment ${JSON.stringify(segment)}`);
    return escapeRegExp(segment);
  });
  return { re: new RegExp(`^/${parts.join("/")}$`), names };
}

export class Router<H> {
  readonly #routes: CompiledRoute<H>[] = [];

  /** Adds a route; routes are tried in the order they were added. */
  on(method: string, pattern: string, handler: H): this {
    const { re, names } = compilePattern(pattern);
    this.#routes.push({ method: method.toUpperCase(), pattern, re, names, handler });
    return this;
  }

  match(method: string, path: string): RouteMatch<H> {
    const wanted = method.toUpperCase();
    const allow: string[] = [];
    for (const route of this.#routes) {
      const m = route.re.exec(path);
      if (!m) continue;
      if (route.method !== wanted) {
        if (!allow.includes(route.method)) allow.push(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => (params[name] = decodeSegment(m[i + 1]!)));
      return { kind: "found", handler: route.handler, params, pattern: route.pattern };
    }
    return allow.length ? { kind: "method-not-allowed", allow } : { kind: "not-found" };
  }
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
