/**
 * The Nix files, checked without NixOS or nixpkgs (neither exists on the CI machine; Debian's
 * nix-bin does): every .nix file must parse, and what is pure enough is evaluated and compared
 * with the TypeScript side — the module's options cover every environment variable the daemon
 * reads, their defaults are the daemon's, the environment the module builds is accepted by the
 * daemon's own parser, the assertions catch bad values, the template and the daemon agree on
 * where the runner's secret lives, and the lock file gets download URLs.
 *
 * Where nix-instantiate is missing the tests are skipped, loudly.
 */
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { GUEST_SECRET_PATH } from "../../src/backend/nixos/host-files.js";
import {
  CONFIG_SCHEMA,
  loadConfig,
  readVariable,
  variablesOf,
  type Env,
  type Variable,
} from "../../src/config.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const hasNix = spawnSync("nix-instantiate", ["--version"], { encoding: "utf8" }).status === 0;
if (!hasNix) {
  console.warn(
    "\n*** nix-instantiate not found: the Nix file tests are SKIPPED. Install it (Debian: apt-get install nix-bin) to run them; CI does. ***\n",
  );
}
const hasPython = spawnSync("python3", ["--version"]).status === 0;

function nixInstantiate(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync("nix-instantiate", args, { cwd: REPO, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Evaluate a Nix expression (relative paths from the repository root) to JSON. */
function nixEval<T>(expr: string): T {
  const r = nixInstantiate(["--eval", "--strict", "--json", "--readonly-mode", "-E", expr]);
  // On an error nix-instantiate may already have printed part of the JSON: only exit 0 counts.
  if (r.code !== 0) throw new Error(`nix-instantiate --eval failed (exit ${r.code}):\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

async function nixFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if ([".git", "node_modules", "dist", "coverage", "result"].includes(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await nixFiles(path)));
    else if (entry.isFile() && entry.name.endsWith(".nix")) out.push(path);
  }
  return out.sort();
}

/** The variables of the configuration table that the NixOS module sets, sorted. */
function moduleVariables(): Variable<unknown>[] {
  return variablesOf(CONFIG_SCHEMA)
    .filter((v) => v.nixOption !== null)
    .sort((a, b) => a.name.localeCompare(b.name));
}

const LIB = "(import ./test/nix/stub-lib.nix)";

/** Every option of a module, as path → facts, with defaults only where they are plain data. */
const OPTIONS_OF = `
  opts: noDefault:
  let
    walk = prefix: set: builtins.concatLists (map (n:
      let v = set.\${n}; p = prefix ++ [ n ]; path = builtins.concatStringsSep "." p; in
      if (v._type or null) == "option" then [ {
        inherit path;
        type = v.type.name or null;
        description = v.description or null;
        hasDefault = v ? default;
        default = if v ? default && !(builtins.elem path noDefault) then v.default else null;
      } ] else walk p v) (builtins.attrNames set));
  in walk [ ] opts`;

/** The messages of the assertions that fail for the defaults with repo and tokenFile set, plus `override`. */
function failingChecks(override: string, stateVersion = "25.05"): string[] {
  return nixEval<string[]>(`
    let
      l = import ./nix/lib.nix;
      base = l.defaults // { repo = "o/r"; tokenFile = "/run/t"; runnerCommand = null; runnerNamePrefix = null;
                             nat = { enable = true; externalInterface = "eth0"; }; };
      cfg = base // (${override});
    in map (a: a.message) (builtins.filter (a: !a.assertion) (l.checks { inherit cfg; stateVersion = "${stateVersion}"; }))`);
}

const MODULE_OPTIONS = `(import ./nix/module.nix { config = { }; lib = ${LIB}; pkgs = { }; }).options.services.runner-controller`;

interface OptionFacts {
  path: string;
  type: string | null;
  description: string | null;
  hasDefault: boolean;
  default: unknown;
}

describe.skipIf(!hasNix)("Nix files", () => {
  it("every .nix file in the repository parses", async () => {
    const files = await nixFiles(REPO);
    const names = files.map((f) => relative(REPO, f));
    for (const expected of [
      "flake.nix",
      "nix/ci-container-template.nix",
      "nix/container-resource-limits.nix",
      "nix/lib.nix",
      "nix/module.nix",
      "nix/package.nix",
      "nix/vm-test.nix",
    ]) {
      expect(names).toContain(expected);
    }
    const failures: string[] = [];
    for (const file of files) {
      const r = nixInstantiate(["--parse", file]);
      if (r.code !== 0) failures.push(`${relative(REPO, file)}:\n${r.stderr}`);
    }
    expect(failures).toEqual([]);
  });

  it("the parse check does catch a syntax error", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rc-nix-"));
    try {
      await writeFile(join(dir, "broken.nix"), "{ a = 1; b = ; }\n");
      const r = nixInstantiate(["--parse", join(dir, "broken.nix")]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/syntax error/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("the module has a documented option for every variable of the table that names one", () => {
    const options = nixEval<OptionFacts[]>(
      `(${OPTIONS_OF}) ${MODULE_OPTIONS} [ "package" "container.system" "container.nixosPath" ]`,
    );
    for (const o of options) {
      expect(o.description, o.path).toMatch(/\w{3}/);
      expect(o.type, o.path).not.toBeNull();
    }
    // A configuration that sets every optional value, so every variable appears (a template's
    // with no system, the system's with one).
    const env = nixEval<Record<string, string>>(`
      let
        l = import ./nix/lib.nix;
        cfg = l.defaults // {
          repo = "o/r"; tokenFile = "/run/t"; runnerCommand = "/opt/run.sh"; runnerNamePrefix = "ci";
          org = "o"; repos = [ "r" "s" ]; app = { id = 1; privateKeyFile = "/run/k"; installationId = 2; };
          nat = { enable = true; externalInterface = "eth0"; };
          container = l.defaults.container // { nixosPath = "/nix/store/00000000000000000000000000000000-source/nixos"; };
          webhook = l.defaults.webhook // { enable = true; secretFile = "/run/secrets/webhook"; };
        };
      in l.toEnv cfg null // l.toEnv cfg "/nix/store/00000000000000000000000000000000-system"`);
    const variables = moduleVariables();
    expect(Object.keys(env).sort()).toEqual(variables.map((v) => v.name));
    // Each variable has the option the table names, and its description names the variable.
    const byPath = new Map(options.map((o) => [o.path, o]));
    for (const v of variables) {
      const option = byPath.get(v.nixOption!);
      expect(option, `${v.name}: services.runner-controller.${v.nixOption}`).toBeDefined();
      expect(option!.description, v.name).toMatch(new RegExp(`^${v.name}\\b`));
    }
  });

  it("the module's defaults are the table's, variable by variable", () => {
    const facts = nixEval<{ options: OptionFacts[]; env: Record<string, string> }>(`
      let
        opts = (${OPTIONS_OF}) ${MODULE_OPTIONS} [ "package" "container.system" "container.nixosPath" ];
        set = path: value: attrs:
          let head = builtins.head path; rest = builtins.tail path; in
          attrs // { \${head} = if rest == [ ] then value else set rest value (attrs.\${head} or { }); };
        fromOptions = builtins.foldl' (acc: o: set (builtins.filter builtins.isString (builtins.split "\\\\." o.path)) o.default acc) { } opts;
        cfg = fromOptions // { repo = "octo-org/octo-repo"; tokenFile = "/run/secrets/token"; };
      in { options = opts; env = (import ./nix/lib.nix).toEnv cfg null; }`);
    const byPath = new Map(facts.options.map((o) => [o.path, o]));
    const host = { hostname: "ci-01.example.com" };
    for (const v of moduleVariables()) {
      const option = byPath.get(v.nixOption!)!;
      const p = v.presence;
      if (p.type === "required") {
        // No default, or null with an assertion that demands a value (GITHUB_REPO or GITHUB_ORG,
        // GITHUB_TOKEN_FILE or the App: the module asks for exactly one of each pair).
        if (option.hasDefault) {
          expect(option.default, `${v.nixOption} (${v.name} is required)`).toBeNull();
          const unset = v.nixOption === "repo" ? `{ repo = null; }` : `{ ${v.nixOption} = null; }`;
          expect(failingChecks(unset), `${v.nixOption} = null must fail an assertion`).toEqual([
            expect.stringContaining(`services.runner-controller.${v.nixOption}`),
          ]);
        }
      } else if (p.type === "default") {
        // The module's default, through toEnv, is what the daemon makes of the table's default.
        expect(facts.env[v.name], v.name).toBeDefined();
        expect(readVariable(v, { [v.name]: facts.env[v.name] }, host), v.name).toEqual(
          readVariable(v, {}, host),
        );
      } else if (!["CONTAINER_SYSTEM", "GITHUB_REPO", "GITHUB_TOKEN_FILE"].includes(v.name)) {
        // Unset by default, so the daemon derives it (or goes without) as the table says. (The
        // repository and the token file are set above: one scope and one credential are needed.)
        expect(facts.env[v.name], v.name).toBeUndefined();
      }
    }
    const minimal: Env = { GITHUB_REPO: "octo-org/octo-repo", GITHUB_TOKEN_FILE: "/run/secrets/token" };
    expect(loadConfig(facts.env, host)).toEqual(loadConfig(minimal, host));
  });

  it("a configuration with decimals and no limits reaches the daemon intact", () => {
    const env = nixEval<Env>(`
      let l = import ./nix/lib.nix; in l.toEnv (l.defaults // {
        repo = "o/r"; tokenFile = "/run/t"; runnerCommand = null; runnerNamePrefix = "ci-01";
        pollInterval = 0.5; jobTimeout = 3600;
        container = l.defaults.container // { cpuQuota = null; memoryMax = "25%"; tasksMax = null; extraNspawnFlags = [ "--link-journal=no" "--suppress-sync=yes" ]; };
      }) "/nix/store/00000000000000000000000000000000-system"`);
    const c = loadConfig(env);
    expect(c.pollIntervalMs).toBe(500);
    expect(c.runnerNamePrefix).toBe("ci-01");
    expect(c.container).toEqual({
      system: "/nix/store/00000000000000000000000000000000-system",
      template: "/etc/nixos/ci-container-template.nix",
      nixosPath: undefined,
      cpuQuota: null,
      memoryMax: "25%",
      tasksMax: null,
      startTimeoutMs: 300_000,
      extraNspawnFlags: ["--link-journal=no", "--suppress-sync=yes"],
    });
  });

  it("NIXOS_PATH goes to the daemon with a template only, and the module defaults it to the host's nixpkgs", () => {
    const facts = nixEval<{ template: Env; system: Env; default: string; text: string }>(`
      let
        l = import ./nix/lib.nix;
        cfg = l.defaults // {
          repo = "o/r"; tokenFile = "/run/t"; runnerCommand = null; runnerNamePrefix = null;
          container = l.defaults.container // { nixosPath = "/nix/store/00000000000000000000000000000000-source/nixos"; };
        };
        option = (import ./nix/module.nix {
          config = { }; lib = ${LIB}; pkgs = { path = "/nix/store/11111111111111111111111111111111-source"; };
        }).options.services.runner-controller.container.nixosPath;
      in {
        template = l.toEnv cfg null;
        system = l.toEnv cfg "/nix/store/00000000000000000000000000000000-system";
        default = option.default;
        text = option.defaultText.text;
      }`);
    expect(facts.template["NIXOS_PATH"]).toBe("/nix/store/00000000000000000000000000000000-source/nixos");
    expect(loadConfig(facts.template).container.nixosPath).toBe(
      "/nix/store/00000000000000000000000000000000-source/nixos",
    );
    expect(facts.system).not.toHaveProperty("NIXOS_PATH");
    expect(facts.default).toBe("/nix/store/11111111111111111111111111111111-source/nixos");
    expect(facts.text).toBe('"${pkgs.path}/nixos"');
  });

  it("the assertions pass on a good configuration and name the option on a bad one", () => {
    const failing = (override: string, stateVersion = "25.05"): string[] =>
      nixEval<string[]>(`
        let
          l = import ./nix/lib.nix;
          base = l.defaults // { repo = "o/r"; tokenFile = "/run/t"; runnerCommand = null; runnerNamePrefix = null;
                                 nat = { enable = true; externalInterface = "eth0"; }; };
          cfg = base // (${override});
        in map (a: a.message) (builtins.filter (a: !a.assertion) (l.checks { inherit cfg; stateVersion = "${stateVersion}"; }))`);
    expect(failing("{ }")).toEqual([]);
    expect(failing(`{ repo = "not a repo"; }`)).toEqual([
      expect.stringMatching(/services\.runner-controller\.repo/),
    ]);
    expect(failing(`{ tokenFile = "/nix/store/abc-token"; }`)).toEqual([
      expect.stringMatching(/tokenFile .* outside the Nix store.*agenix.*sops-nix/),
    ]);
    expect(failing(`{ labels = [ ]; }`)).toEqual([expect.stringMatching(/labels/)]);
    expect(failing(`{ labels = [ "a,b" ]; }`)).toEqual([expect.stringMatching(/labels/)]);
    expect(failing(`{ backend = "process"; }`)).toEqual([expect.stringMatching(/runnerCommand/)]);
    expect(failing(`{ pollInterval = 0; }`)).toEqual([expect.stringMatching(/pollInterval/)]);
    expect(failing(`{ nat = { enable = true; externalInterface = null; }; }`)).toEqual([
      expect.stringMatching(/nat\.externalInterface is not set/),
    ]);
    expect(failing(`{ container = base.container // { cpuQuota = "4"; }; }`)).toEqual([
      expect.stringMatching(/container\.cpuQuota/),
    ]);
    expect(failing(`{ container = base.container // { extraNspawnFlags = [ "--bind=/a b" ]; }; }`)).toEqual([
      expect.stringMatching(/extraNspawnFlags/),
    ]);
    expect(failing(`{ container = base.container // { template = "/etc/../x.nix"; }; }`)).toEqual([
      expect.stringMatching(/container\.template/),
    ]);
    expect(failing(`{ container = base.container // { nixosPath = "nixpkgs/nixos"; }; }`)).toEqual([
      expect.stringMatching(/container\.nixosPath/),
    ]);
    expect(
      failing(`{ container = base.container // { nixosPath = "/nix/store/abc-source/nixos"; }; }`),
    ).toEqual([]);
    expect(failing("{ }", "21.11")).toEqual([expect.stringMatching(/stateVersion >= 22\.05/)]);
  });

  it("pool.schedule becomes one timer and one oneshot `runner-controller pool set N` service per entry", async () => {
    const facts = nixEval<{
      enabledOnly: boolean;
      timers: Record<
        string,
        { wantedBy: string[]; timerConfig: { OnCalendar: string; Persistent: boolean } }
      >;
      services: Record<
        string,
        { ExecStart: string; Type: string; noRetry: string; after: string[]; environment: Env }
      >;
      serviceNames: string[];
      none: Record<string, unknown>;
      env: Env;
    }>(`
      let
        l = import ./nix/lib.nix;
        cfg = l.defaults // {
          enable = true; repo = "o/r"; tokenFile = "/run/t"; runnerCommand = null; runnerNamePrefix = null;
          package = "/nix/store/00000000000000000000000000000000-runner-controller";
          stateDir = "/var/lib/rc-pool"; extraEnvironment = { };
          container = l.defaults.container // { system = null; };
          pool = l.defaults.pool // {
            minIdle = 1; maxAge = 3600;
            schedule = [ { onCalendar = "Mon..Fri 08:00"; minIdle = 4; } { onCalendar = "Mon..Fri 18:00"; minIdle = 0; } ];
          };
        };
        module = c: import ./nix/module.nix { config.services.runner-controller = c; lib = ${LIB}; pkgs = { }; };
        systemd = (module cfg).config.content.systemd;
      in {
        enabledOnly = (module cfg).config.condition;
        timers = builtins.mapAttrs (n: t: { inherit (t) wantedBy timerConfig; }) systemd.timers;
        services = builtins.mapAttrs (n: s: {
          inherit (s.serviceConfig) ExecStart Type;
          noRetry = s.serviceConfig.RestartPreventExitStatus;
          inherit (s) after environment;
        }) (removeAttrs systemd.services [ "runner-controller" ]);
        serviceNames = builtins.attrNames systemd.services;
        none = (module (cfg // { pool = l.defaults.pool; })).config.content.systemd.timers;
        env = l.toEnv cfg null;
      }`);
    expect(facts.enabledOnly).toBe(true);
    expect(facts.timers).toEqual({
      "runner-controller-pool-0": {
        wantedBy: ["timers.target"],
        timerConfig: { OnCalendar: "Mon..Fri 08:00", Persistent: true },
      },
      "runner-controller-pool-1": {
        wantedBy: ["timers.target"],
        timerConfig: { OnCalendar: "Mon..Fri 18:00", Persistent: true },
      },
    });
    expect(facts.serviceNames).toEqual([
      "runner-controller",
      "runner-controller-pool-0",
      "runner-controller-pool-1",
    ]);
    const command = "/nix/store/00000000000000000000000000000000-runner-controller/bin/runner-controller";
    for (const [name, size] of [
      ["runner-controller-pool-0", "4"],
      ["runner-controller-pool-1", "0"],
    ] as const) {
      const unit = facts.services[name]!;
      expect(unit.ExecStart.split(" "), name).toEqual([command, "pool", "set", size]);
      expect(unit.Type).toBe("oneshot");
      expect(unit.noRetry).toBe("2");
      expect(unit.after).toEqual(["runner-controller.service"]);
      // The daemon's STATE_DIR: the command finds the control socket there.
      expect(unit.environment).toEqual({ STATE_DIR: "/var/lib/rc-pool" });
    }
    expect(facts.none).toEqual({});
    const config = loadConfig(facts.env);
    expect(config.minIdle).toBe(1);
    expect(config.poolMaxAgeMs).toBe(3_600_000);

    // The argv is one the command accepts: with no daemon it gets as far as the socket (exit 3).
    const argv = facts.services["runner-controller-pool-0"]!.ExecStart.split(" ").slice(1);
    const dir = await mkdtemp(join(tmpdir(), "rc-pool-set-"));
    try {
      const r = spawnSync(process.execPath, [join(REPO, "bin/runner-controller.js"), ...argv], {
        env: { STATE_DIR: dir, PATH: process.env["PATH"] ?? "/usr/bin:/bin" },
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(r.stderr).toContain(`no daemon answers on ${dir}/control.sock`);
      expect(r.status).toBe(3);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("the pool's sizes are checked against maxConcurrent at evaluation", () => {
    const failing = (override: string): string[] =>
      nixEval<string[]>(`
        let
          l = import ./nix/lib.nix;
          base = l.defaults // { repo = "o/r"; tokenFile = "/run/t"; runnerCommand = null; runnerNamePrefix = null;
                                 nat = { enable = true; externalInterface = "eth0"; }; };
          cfg = base // (${override});
        in map (a: a.message) (builtins.filter (a: !a.assertion) (l.checks { inherit cfg; stateVersion = "25.05"; }))`);
    expect(failing(`{ maxConcurrent = 3; pool = base.pool // { minIdle = 3; } ; }`)).toEqual([]);
    expect(failing(`{ maxConcurrent = 3; pool = base.pool // { minIdle = 4; }; }`)).toEqual([
      "services.runner-controller.pool.minIdle = 4 must be from 0 to services.runner-controller.maxConcurrent (3): pool and busy containers together never exceed maxConcurrent.",
    ]);
    const entry = (calendar: string, n: number): string =>
      `{ maxConcurrent = 3; pool = base.pool // { schedule = [ { onCalendar = "daily"; minIdle = 3; } { onCalendar = ${JSON.stringify(calendar)}; minIdle = ${n}; } ]; }; }`;
    expect(failing(entry("Mon..Fri 08:00", 0))).toEqual([]);
    expect(failing(entry("Mon..Fri 08:00", 5))).toEqual([
      expect.stringMatching(
        /^services\.runner-controller\.pool\.schedule: the entry \{ onCalendar = "Mon\.\.Fri 08:00"; minIdle = 5; \} needs a minIdle from 0 to .*maxConcurrent \(3\)/,
      ),
    ]);
    expect(failing(entry("", 1))).toEqual([expect.stringMatching(/pool\.schedule/)]);
    expect(failing(`{ pool = base.pool // { maxAge = 30; }; }`)).toEqual([
      expect.stringMatching(/pool\.maxAge must be from 60 seconds/),
    ]);
  });

  it("the limits module's defaults and value checks agree with the daemon's", () => {
    const facts = nixEval<{ defaults: Record<string, unknown>; cpu: string; mem: string }>(`
      let
        o = (import ./nix/container-resource-limits.nix { config = { }; lib = ${LIB}; }).options.virtualisation.jobContainerLimits;
      in {
        defaults = builtins.mapAttrs (n: v: v.default) (removeAttrs o [ "enable" ]);
        cpu = o.cpuQuota.type.elemType.regex;
        mem = o.memoryMax.type.elemType.regex;
      }`);
    const c = loadConfig({ GITHUB_REPO: "o/r", GITHUB_TOKEN_FILE: "/t" }).container;
    expect(facts.defaults).toEqual({
      cpuQuota: c.cpuQuota,
      memoryMax: c.memoryMax,
      swap: false,
      tasksMax: Number(c.tasksMax),
      startTimeout: c.startTimeoutMs / 1000,
      stopTimeout: 90,
    });
    // The same values pass or fail Nix's check and the daemon's.
    const samples: [string, string][] = [
      ["CONTAINER_CPU_QUOTA", "400%"],
      ["CONTAINER_CPU_QUOTA", "4"],
      ["CONTAINER_CPU_QUOTA", "0%"],
      ["CONTAINER_MEMORY_MAX", "8G"],
      ["CONTAINER_MEMORY_MAX", "512M"],
      ["CONTAINER_MEMORY_MAX", "25%"],
      ["CONTAINER_MEMORY_MAX", "100%"],
      ["CONTAINER_MEMORY_MAX", "101%"],
      ["CONTAINER_MEMORY_MAX", "8 G"],
      ["CONTAINER_MEMORY_MAX", "8g"],
    ];
    const nixSays = nixEval<boolean[]>(
      `[ ${samples.map(([n, v]) => `(builtins.match ${JSON.stringify(n === "CONTAINER_CPU_QUOTA" ? facts.cpu : facts.mem)} ${JSON.stringify(v)} != null)`).join(" ")} ]`,
    );
    const daemonSays = samples.map(([n, v]) => {
      try {
        loadConfig({ GITHUB_REPO: "o/r", GITHUB_TOKEN_FILE: "/t", [n]: v });
        return true;
      } catch {
        return false;
      }
    });
    expect(nixSays).toEqual(daemonSays);
    expect(daemonSays).toEqual([true, false, false, true, true, true, true, false, false, false]);
  });

  it("the container system is evaluated with the host's pkgs and its hostPlatform", async () => {
    // A stand-in nixpkgs whose eval-config.nix hands back what it was called with.
    const nixpkgs = await mkdtemp(join(tmpdir(), "rc-nixpkgs-"));
    try {
      await mkdir(join(nixpkgs, "nixos/lib"), { recursive: true });
      await writeFile(
        join(nixpkgs, "nixos/lib/eval-config.nix"),
        "args: { config.system.build.toplevel = args; }\n",
      );
      const facts = nixEval<{
        system: string | null;
        hostPlatform: unknown;
        pkgsIsHosts: boolean;
        nameservers: string[];
        extraModuleLast: boolean;
        hasConfig: boolean;
      }>(`
        let
          pkgs = { path = ${JSON.stringify(nixpkgs)}; stdenv.hostPlatform = { system = "aarch64-linux"; isLinux = true; }; };
          extra = { marker = "extra"; };
          cfg.container = { nameservers = [ "192.0.2.53" ]; extraModules = [ extra ]; };
          args = (import ./nix/module.nix { config.services.runner-controller = cfg; lib = ${LIB}; inherit pkgs; })
            .options.services.runner-controller.container.system.default;
          own = builtins.head (builtins.filter (m: builtins.isAttrs m && m ? nixpkgs) args.modules);
        in {
          inherit (args) system;
          hostPlatform = own.nixpkgs.hostPlatform;
          pkgsIsHosts = own.nixpkgs.pkgs == pkgs;
          nameservers = own.runnerJob.nameservers;
          extraModuleLast = builtins.elemAt args.modules (builtins.length args.modules - 1) == extra;
          hasConfig = own.nixpkgs ? config;
        }`);
      expect(facts).toEqual({
        system: null,
        hostPlatform: { system: "aarch64-linux", isLinux: true },
        pkgsIsHosts: true,
        nameservers: ["192.0.2.53"],
        extraModuleLast: true,
        hasConfig: false,
      });
    } finally {
      await rm(nixpkgs, { recursive: true, force: true });
    }
  });

  it("the module tells the operator not to set nixpkgs.config in container.extraModules", () => {
    const description = nixEval<string>(`${MODULE_OPTIONS}.container.extraModules.description`);
    expect(description).toMatch(/must not set\s+nixpkgs\.config \(the evaluation fails an assertion\)/);
  });

  it("the container template reads the secret where the daemon writes it", () => {
    const paths = nixEval<{ template: string; lib: string }>(`{
      template = (import ./nix/ci-container-template.nix {
        config = { }; lib = ${LIB}; pkgs = { }; options = { };
      }).options.runnerJob.secretFile.default;
      lib = (import ./nix/lib.nix).guestSecretFile;
    }`);
    expect(paths).toEqual({ template: GUEST_SECRET_PATH, lib: GUEST_SECRET_PATH });
  });

  it("gives every locked npm package a registry URL, so importNpmLock can fetch it", async () => {
    const lock = JSON.parse(await readFile(join(REPO, "package-lock.json"), "utf8")) as {
      packages: Record<string, { version?: string; link?: boolean; name?: string }>;
    };
    const urls = nixEval<Record<string, string | null>>(`
      builtins.mapAttrs (k: p: p.resolved or null)
        ((import ./nix/lib.nix).withResolvedUrls (builtins.fromJSON (builtins.readFile ./package-lock.json))).packages`);
    const keys = Object.keys(lock.packages).filter((k) => k !== "" && !lock.packages[k]!.link);
    expect(keys.length).toBeGreaterThan(10);
    for (const key of keys) {
      const p = lock.packages[key]!;
      const name = p.name ?? key.slice(key.lastIndexOf("node_modules/") + "node_modules/".length);
      const base = name.startsWith("@") ? name.slice(name.indexOf("/") + 1) : name;
      expect(urls[key], key).toBe(`https://registry.npmjs.org/${name}/-/${base}-${p.version}.tgz`);
    }
    expect(urls[""]).toBeNull();
  });

  it("the flake has the outputs the README promises", () => {
    const shape = nixEval<Record<string, unknown>>(`
      let
        flake = import ./flake.nix;
        systems = [ "x86_64-linux" "aarch64-linux" ];
        nixpkgs = {
          lib.genAttrs = names: f: builtins.listToAttrs (map (name: { inherit name; value = f name; }) names);
          legacyPackages = builtins.listToAttrs (map (name: { inherit name; value = { }; }) systems);
        };
        out = flake.outputs { self = out; inherit nixpkgs; };
      in {
        inputs = builtins.attrNames flake.inputs;
        outputs = builtins.attrNames out;
        packages = builtins.mapAttrs (s: builtins.attrNames) out.packages;
        apps = builtins.attrNames out.apps.x86_64-linux;
        checks = builtins.attrNames out.checks.x86_64-linux;
        modules = builtins.attrNames out.nixosModules;
        moduleIsFunction = builtins.isFunction out.nixosModules.default;
      }`);
    expect(shape).toEqual({
      inputs: ["nixpkgs"],
      outputs: ["apps", "checks", "nixosModules", "packages"],
      packages: { "aarch64-linux": ["default"], "x86_64-linux": ["default"] },
      apps: ["default", "demo", "simulate"],
      checks: ["package", "vm"],
      modules: ["ci-container-template", "container-resource-limits", "default"],
      moduleIsFunction: true,
    });
  });

  it.skipIf(!hasPython)("the VM test's script is valid Python", () => {
    const script = nixEval<string>(`
      ((import ./nix/vm-test.nix { self = { }; }) { lib = ${LIB}; }).testScript {
        nodes.host.networking.primaryIPAddress = "192.168.1.2";
      }`);
    expect(script).toContain("http://192.168.1.2:8090/_sim/runs");
    const r = spawnSync("python3", ["-c", "import ast, sys; ast.parse(sys.stdin.read())"], {
      input: script,
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
