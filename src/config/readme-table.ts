/**
 * The README's configuration table, made from the table of variables (schema.ts). A test keeps
 * README.md equal to it; `npm run docs:config` rewrites the README's copy.
 */
import { CONFIG_SCHEMA } from "./schema.js";
import { variablesOf, type Variable } from "./variable.js";

/** The README marks the generated table with these lines. */
export const TABLE_START =
  "<!-- config-table:start (generated from src/config/schema.ts: npm run docs:config) -->";
export const TABLE_END = "<!-- config-table:end -->";

function cell(text: string): string {
  return text.replace(/\|/g, "\\|");
}

function defaultOf(v: Variable<unknown>): string {
  const p = v.presence;
  switch (p.type) {
    case "default":
      return p.value === "" ? "—" : `\`${p.value}\``;
    case "derived":
      return p.shown;
    case "required":
      return "required";
    case "optional":
      return p.requiredWhen === undefined
        ? "—"
        : `required with \`${p.requiredWhen.name}=${p.requiredWhen.equals}\``;
  }
}

/** The configuration table in Markdown (unaligned; Prettier aligns the README's copy). */
export function configTableMarkdown(): string {
  const rows = [
    "| Variable | Default | Values | Description |",
    "| --- | --- | --- | --- |",
    ...variablesOf(CONFIG_SCHEMA).map(
      (v) => `| \`${v.name}\` | ${cell(defaultOf(v))} | ${cell(v.kind.values)} | ${cell(v.description)} |`,
    ),
  ];
  return `${rows.join("\n")}\n`;
}

/** `readme` with the text between the markers replaced by `table`; throws when a marker is missing. */
export function withConfigTable(readme: string, table: string): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`README.md lacks the markers ${TABLE_START} … ${TABLE_END}`);
  return `${readme.slice(0, start + TABLE_START.length)}\n\n${table}\n${readme.slice(end)}`;
}

/** The text between the markers (the README's copy of the table). */
export function configTableOf(readme: string): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`README.md lacks the markers ${TABLE_START} … ${TABLE_END}`);
  return readme.slice(start + TABLE_START.length, end).trim() + "\n";
}
