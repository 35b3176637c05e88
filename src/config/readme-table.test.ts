import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { format, resolveConfig } from "prettier";
import { describe, expect, it } from "vitest";
import { configTableMarkdown, configTableOf, withConfigTable } from "./readme-table.js";
import { CONFIG_SCHEMA } from "./schema.js";
import { variablesOf } from "./variable.js";

const README = fileURLToPath(new URL("../../README.md", import.meta.url));

/** The generated table as Prettier lays it out in the README. */
async function formattedTable(): Promise<string> {
  const options = (await resolveConfig(README)) ?? {};
  return format(configTableMarkdown(), { ...options, parser: "markdown" });
}

describe("the README's configuration table", () => {
  it("is the one made from the table of variables (npm run docs:config rewrites it)", async () => {
    const table = await formattedTable();
    let readme = await readFile(README, "utf8");
    if (process.env["WRITE_CONFIG_TABLE"] === "1") {
      readme = withConfigTable(readme, table);
      await writeFile(README, readme);
    }
    expect(configTableOf(readme), "README.md is out of date: run npm run docs:config").toBe(table);
  });

  it("has a row for every variable, with its default, accepted values and description", () => {
    const rows = configTableMarkdown().trimEnd().split("\n").slice(2);
    const variables = variablesOf(CONFIG_SCHEMA);
    expect(rows).toHaveLength(variables.length);
    expect(rows.find((r) => r.startsWith("| `MAX_CONCURRENT` |"))).toBe(
      "| `MAX_CONCURRENT` | `7` | integer, 1 to 100 | Maximum number of job containers at once (each gets one of 100 `/24` subnets) |",
    );
    // Exactly one of GITHUB_REPO and GITHUB_ORG: neither is required on its own, the description says so.
    expect(rows.find((r) => r.startsWith("| `GITHUB_REPO` |"))).toMatch(
      /^\| `GITHUB_REPO` \| — \|.*Exactly one of/,
    );
    expect(rows.find((r) => r.startsWith("| `RUNNER_COMMAND` |"))).toMatch(
      /^\| `RUNNER_COMMAND` \| required with `BACKEND=process` \|/,
    );
    expect(rows.find((r) => r.startsWith("| `RUNNER_NAME_PREFIX` |"))).toMatch(/\| host name \|/);
    for (const [i, v] of variables.entries()) {
      expect(rows[i]).toContain(`\`${v.name}\``);
      expect(v.description, v.name).toMatch(/\w{3}/);
    }
  });

  it("replaces only what lies between the markers", () => {
    const start = "<!-- config-table:start (generated from src/config/schema.ts: npm run docs:config) -->";
    const doc = `# T\n\n${start}\n\nold\n\n<!-- config-table:end -->\n\nafter\n`;
    const out = withConfigTable(doc, "| a |\n");
    expect(out).toBe(`# T\n\n${start}\n\n| a |\n\n<!-- config-table:end -->\n\nafter\n`);
    expect(configTableOf(out)).toBe("| a |\n");
    expect(() => withConfigTable("# no markers\n", "| a |\n")).toThrow(/markers/);
  });
});
