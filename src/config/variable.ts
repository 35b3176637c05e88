/**
 * One configuration variable, declared once: its name, kind (type, range, accepted values), when
 * it must be set or what it defaults to, its description for the README and the NixOS module
 * option that sets it. src/config/schema.ts is the table of them.
 */
import type { Kind } from "./kinds.js";
import type { HostFacts } from "./types.js";

export type Presence =
  /** Unset means `value` (as written in the environment). */
  | { readonly type: "default"; readonly value: string }
  /** Unset means a value computed from the host; `shown` says which, for the README. */
  | { readonly type: "derived"; readonly shown: string; readonly value: (host: HostFacts) => string }
  /** Must be set; `fix` says to what. */
  | { readonly type: "required"; readonly fix: string }
  /** May stay unset (the value is then undefined), unless `requiredWhen` holds. */
  | { readonly type: "optional"; readonly requiredWhen?: RequiredWhen };

/** An optional variable must be set when another variable has a given (parsed) value. */
export interface RequiredWhen {
  readonly name: string;
  readonly equals: string;
  readonly fix: string;
}

export interface Variable<T> {
  readonly name: string;
  readonly kind: Kind<T>;
  readonly presence: Presence;
  /** What it does, for the README (Markdown, one line). */
  readonly description: string;
  /** The option of the NixOS module (under services.runner-controller) that sets it, or null. */
  readonly nixOption: string | null;
}

interface Common {
  readonly description: string;
  /** The NixOS module option that sets it, or null where the module does not (say how it is set instead). */
  readonly nix: string | null;
}

/** A variable with a default or a required one. */
export function variable<T>(
  name: string,
  kind: Kind<T>,
  spec: Common &
    (
      | { readonly default: string }
      | { readonly derived: string; readonly from: (host: HostFacts) => string }
      | { readonly required: string }
    ),
): Variable<T> {
  const presence: Presence =
    "default" in spec
      ? { type: "default", value: spec.default }
      : "derived" in spec
        ? { type: "derived", shown: spec.derived, value: spec.from }
        : { type: "required", fix: spec.required };
  return Object.freeze({ name, kind, presence, description: spec.description, nixOption: spec.nix });
}

/** A variable that may stay unset (its value is then undefined). */
export function optional<T>(
  name: string,
  kind: Kind<T>,
  spec: Common & { readonly requiredWhen?: RequiredWhen },
): Variable<T | undefined> {
  const presence: Presence =
    spec.requiredWhen === undefined
      ? { type: "optional" }
      : { type: "optional", requiredWhen: spec.requiredWhen };
  return Object.freeze({ name, kind, presence, description: spec.description, nixOption: spec.nix });
}

/** A table of variables, nested where the configuration is. */
export interface Schema {
  readonly [field: string]: Variable<unknown> | Schema;
}

/** What a schema parses into. */
export type Parsed<S> = {
  readonly [K in keyof S]: S[K] extends Variable<infer T> ? T : Parsed<S[K]>;
};

export function isVariable(entry: Variable<unknown> | Schema): entry is Variable<unknown> {
  return typeof entry["name"] === "string" && "kind" in entry;
}

/** Every variable of a schema, in table order. */
export function variablesOf(schema: Schema): Variable<unknown>[] {
  return Object.values(schema).flatMap((e) => (isVariable(e) ? [e] : variablesOf(e)));
}
