/**
 * Several instances on one host, checked with nix-instantiate against the stand-in lib (no NixOS
 * here): services.runner-controller.instances.<name> takes the single instance's options, each
 * enabled instance becomes its own service with its own environment (which the daemon's parser
 * accepts), pool timers and STATE_DIR; overlapping subnet ranges, a shared port, STATE_DIR or
 * runner name prefix fail the evaluation with a message naming both instances; and a
 * configuration without instances evaluates as before.
 */
import { describe, expect, it } from "vitest";
import { hasNix, nixEval } from "../helpers/nix-eval.js";
import { loadConfig, type Env } from "../../src/config.js";

const LIB = "(import ./test/nix/stub-lib.nix)";
const PACKAGE = "/nix/store/00000000000000000000000000000000-runner-controller";

/**
 * Nix `let` bindings: `l` (lib.nix), `inst` (a complete instance configuration from overrides),
 * `single` (the single instance's, with the host-level options), and `module` (the module's
 * config for a services.runner-controller value, on host "host1").
 */
const PRELUDE = `
  l = import ./nix/lib.nix;
  inst = over: l.defaults // {
    enable = true; extraEnvironment = { }; runnerCommand = null; runnerNamePrefix = null;
    container = l.defaults.container // { system = null; };
  } // over;
  single = over: inst ({
    enable = true; package = "${PACKAGE}"; repo = "o/r"; tokenFile = "/run/t";
    nat = { enable = true; externalInterface = "eth0"; };
  } // over);
  module = rc: (import ./nix/module.nix {
    config = { services.runner-controller = rc; networking.hostName = "host1"; system.stateVersion = "25.05"; };
    lib = ${LIB}; pkgs = { };
  }).config;
  failing = rc: map (a: a.message) (builtins.filter (a: !a.assertion) (module rc).content.assertions);
`;

/** Two instances beside the single one: `a` serves an organization with an App, `b` a repository with a token. */
const THREE = `(single {
  runnerNamePrefix = "host1";
  pool = l.defaults.pool // { schedule = [ { onCalendar = "Mon..Fri 08:00"; minIdle = 2; } ]; };
  instances = {
    a = inst {
      org = "octo-org"; repos = [ "api" "web" ]; runnerGroup = "ci";
      app = { id = 42; privateKeyFile = "/run/secrets/app.pem"; installationId = null; };
      stateDir = "/var/lib/runner-controller-a"; runnerNamePrefix = "host1-a";
      httpPort = 8090; webhook = l.defaults.webhook // { port = 8091; };
      containerSubnets = "10.44.0.0/24-10.44.31.0/24"; maxConcurrent = 20;
      pool = l.defaults.pool // { schedule = [ { onCalendar = "daily"; minIdle = 3; } ]; };
    };
    b = inst {
      repo = "octo-org/big"; tokenFile = "/run/secrets/b-token";
      stateDir = "/var/lib/runner-controller-b"; runnerNamePrefix = "host1-b";
      httpPort = 8092; webhook = l.defaults.webhook // { port = 8093; };
      containerSubnets = "10.45.0.0/24-10.45.7.0/24";
    };
    off = inst { enable = false; };
  };
})`;

interface Unit {
  environment: Env;
  after: string[];
  ExecStart: string;
}

describe.skipIf(!hasNix)("NixOS module: instances.<name>", () => {
  it("an instance has the single instance's options (plus enable), with its own STATE_DIR and prefix by default", () => {
    const facts = nixEval<{
      single: string[];
      instance: string[];
      stateDir: string;
      prefix: string;
      prefixNoHost: string;
      singleState: string;
      singlePrefix: string | null;
    }>(`
      let
        paths = opts: prefix:
          builtins.concatLists (map (n:
            let v = opts.\${n}; p = if prefix == "" then n else "\${prefix}.\${n}"; in
            if (v._type or null) == "option" then [ p ] else paths v p) (builtins.attrNames opts));
        top = hostName: (import ./nix/module.nix {
          config = { services.runner-controller = { }; networking.hostName = hostName; };
          lib = ${LIB}; pkgs = { };
        }).options.services.runner-controller;
        sub = hostName: ((top hostName).instances.type.elemType.module { name = "org"; config = { }; }).options;
      in {
        single = paths (removeAttrs (top "host1") [ "enable" "package" "instances" "nat" ]) "";
        instance = paths (removeAttrs (sub "host1") [ "enable" ]) "";
        stateDir = (sub "host1").stateDir.default;
        prefix = (sub "host1").runnerNamePrefix.default;
        prefixNoHost = (sub "").runnerNamePrefix.default;
        singleState = (top "host1").stateDir.default;
        singlePrefix = (top "host1").runnerNamePrefix.default;
      }`);
    expect(facts.instance.sort()).toEqual(facts.single.sort());
    for (const o of [
      "org",
      "repos",
      "runnerGroup",
      "app.id",
      "app.privateKeyFile",
      "containerSubnets",
      "pollBudget",
    ])
      expect(facts.instance).toContain(o);
    expect(facts.stateDir).toBe("/var/lib/runner-controller-org");
    expect(facts.prefix).toBe("host1-org");
    expect(facts.prefixNoHost).toBe("org");
    expect(facts.singleState).toBe("/var/lib/runner-controller");
    expect(facts.singlePrefix).toBeNull();
  });

  it("each enabled instance is its own service with its own environment, pool timers and STATE_DIR", () => {
    const facts = nixEval<{
      failing: string[];
      services: Record<string, Unit>;
      timers: string[];
      tmpfiles: string[];
      firewall: number[];
    }>(`
      let
        ${PRELUDE}
        c = (module ${THREE}).content;
      in {
        failing = failing ${THREE};
        services = builtins.mapAttrs (n: s: {
          environment = s.environment; after = s.after or [ ]; ExecStart = s.serviceConfig.ExecStart;
        }) c.systemd.services;
        timers = builtins.attrNames c.systemd.timers;
        tmpfiles = c.systemd.tmpfiles.rules;
        firewall = c.networking.firewall.allowedTCPPorts;
      }`);
    expect(facts.failing).toEqual([]);
    expect(Object.keys(facts.services).sort()).toEqual([
      "runner-controller",
      "runner-controller-a",
      "runner-controller-a-pool-0",
      "runner-controller-b",
      "runner-controller-pool-0",
    ]);
    expect(facts.timers.sort()).toEqual(["runner-controller-a-pool-0", "runner-controller-pool-0"]);
    expect(facts.tmpfiles.sort()).toEqual([
      "d /var/lib/runner-controller 0700 root root - -",
      "d /var/lib/runner-controller-a 0700 root root - -",
      "d /var/lib/runner-controller-b 0700 root root - -",
    ]);
    expect(facts.firewall).toEqual([]);

    const a = facts.services["runner-controller-a"]!.environment;
    expect(a).toMatchObject({
      GITHUB_ORG: "octo-org",
      GITHUB_REPOS: "api,web",
      RUNNER_GROUP: "ci",
      GITHUB_APP_ID: "42",
      GITHUB_APP_PRIVATE_KEY_FILE: "/run/secrets/app.pem",
      STATE_DIR: "/var/lib/runner-controller-a",
      RUNNER_NAME_PREFIX: "host1-a",
      HTTP_PORT: "8090",
      WEBHOOK_PORT: "8091",
      CONTAINER_SUBNETS: "10.44.0.0/24-10.44.31.0/24",
      MAX_CONCURRENT: "20",
    });
    for (const absent of ["GITHUB_REPO", "GITHUB_TOKEN_FILE", "GITHUB_APP_INSTALLATION_ID"])
      expect(a).not.toHaveProperty(absent);
    // The daemon takes it: an organization, served as a GitHub App.
    const ac = loadConfig(a, { hostname: "host1" });
    expect(ac.scope).toEqual({
      kind: "org",
      org: "octo-org",
      repositories: ["api", "web"],
      runnerGroup: "ci",
    });
    expect(ac.credentials).toEqual({
      kind: "app",
      appId: 42,
      privateKeyFile: "/run/secrets/app.pem",
      installationId: undefined,
    });
    expect(ac.runnerNamePrefix).toBe("host1-a");

    const b = loadConfig(facts.services["runner-controller-b"]!.environment);
    expect(b.scope).toMatchObject({ kind: "repo", fullName: "octo-org/big" });
    expect(b.credentials).toEqual({ kind: "token", tokenFile: "/run/secrets/b-token" });
    expect(b.stateDir).toBe("/var/lib/runner-controller-b");
    expect([b.httpPort, b.webhook.port]).toEqual([8092, 8093]);
    expect(b.runnerNamePrefix).toBe("host1-b");
    const single = loadConfig(facts.services["runner-controller"]!.environment);
    expect(single.stateDir).toBe("/var/lib/runner-controller");
    expect(single.containerSubnets).toEqual(
      loadConfig({ GITHUB_REPO: "o/r", GITHUB_TOKEN_FILE: "/t" }).containerSubnets,
    );

    // The pool timers call their own instance's daemon: its STATE_DIR holds the control socket.
    const pool = facts.services["runner-controller-a-pool-0"]!;
    expect(pool.environment).toEqual({ STATE_DIR: "/var/lib/runner-controller-a" });
    expect(pool.after).toEqual(["runner-controller-a.service"]);
    expect(pool.ExecStart).toBe(`${PACKAGE}/bin/runner-controller pool set 3`);
    expect(facts.services["runner-controller-pool-0"]!.environment).toEqual({
      STATE_DIR: "/var/lib/runner-controller",
    });
    expect(facts.services["runner-controller-a"]!.ExecStart).toBe(`${PACKAGE}/bin/runner-controller serve`);
  });

  it("overlapping subnet ranges, a shared port, STATE_DIR or prefix fail the evaluation, naming both instances", () => {
    const failing = (instances: string, singleOver = "{ }"): string[] =>
      nixEval<string[]>(`
        let
          ${PRELUDE}
        in failing (single (${singleOver} // { runnerNamePrefix = "host1"; instances = ${instances}; }))`);
    const x = `inst { repo = "o/x"; tokenFile = "/run/x"; stateDir = "/var/lib/rc-x"; runnerNamePrefix = "x"; httpPort = 9000; webhook = l.defaults.webhook // { port = 9001; }; containerSubnets = "10.0.0.0/24-10.0.15.0/24"; }`;
    const y = (over: string): string =>
      `inst ({ repo = "o/y"; tokenFile = "/run/y"; stateDir = "/var/lib/rc-y"; runnerNamePrefix = "y"; httpPort = 9002; webhook = l.defaults.webhook // { port = 9003; }; containerSubnets = "10.0.16.0/24-10.0.31.0/24"; } // ${over})`;
    expect(failing(`{ x = ${x}; y = ${y("{ }")}; }`)).toEqual([]);
    expect(failing(`{ x = ${x}; y = ${y(`{ containerSubnets = "10.0.15.0/24-10.0.25.0/24"; }`)}; }`)).toEqual(
      [
        "services.runner-controller.instances.x.containerSubnets (10.0.0.0/24-10.0.15.0/24) and services.runner-controller.instances.y.containerSubnets (10.0.15.0/24-10.0.25.0/24) overlap: each instance needs /24 networks of its own; give them disjoint ranges.",
      ],
    );
    // With the single instance's default range.
    expect(
      failing(`{ x = ${x}; y = ${y(`{ containerSubnets = "192.168.150.0/24-192.168.160.0/24"; }`)}; }`),
    ).toEqual([
      expect.stringMatching(
        /^services\.runner-controller\.containerSubnets \(192\.168\.100\.0\/24-192\.168\.199\.0\/24\) and services\.runner-controller\.instances\.y\.containerSubnets \(192\.168\.150\.0\/24-192\.168\.160\.0\/24\) overlap/,
      ),
    ]);
    // A disabled instance is not checked.
    expect(
      failing(`{ x = ${x}; y = ${y(`{ enable = false; containerSubnets = "10.0.0.0/24-10.0.1.0/24"; }`)}; }`),
    ).toEqual([]);
    expect(failing(`{ x = ${x}; y = ${y("{ httpPort = 9000; }")}; }`)).toEqual([
      expect.stringMatching(/instances\.x and .*instances\.y both listen on port 9000/),
    ]);
    // A webhook port counts once webhook mode is on (x's 9001 is not a listener while it is off).
    expect(failing(`{ x = ${x}; y = ${y("{ httpPort = 9001; }")}; }`)).toEqual([]);
    const hook = `webhook = l.defaults.webhook // { enable = true; secretFile = "/run/w"; port = 9000; };`;
    expect(failing(`{ x = ${x}; y = ${y(`{ ${hook} }`)}; }`)).toEqual([
      expect.stringMatching(
        /instances\.x and .*instances\.y both listen on port 9000 \(httpPort \/ webhook\.port\)/,
      ),
    ]);
    expect(failing(`{ x = ${x}; y = ${y("{ httpPort = 8080; }")}; }`)).toEqual([
      expect.stringMatching(/^services\.runner-controller and .*instances\.y both listen on port 8080/),
    ]);
    expect(failing(`{ x = ${x}; y = ${y(`{ stateDir = "/var/lib/rc-x"; }`)}; }`)).toEqual([
      expect.stringMatching(/instances\.x\.stateDir and .*instances\.y\.stateDir are both \/var\/lib\/rc-x/),
    ]);
    expect(failing(`{ x = ${x}; y = ${y(`{ runnerNamePrefix = "x"; }`)}; }`)).toEqual([
      expect.stringMatching(/instances\.x\.runnerNamePrefix and .*instances\.y\.runnerNamePrefix are both x/),
    ]);
    // Within one instance: more containers than its range holds, a range that is not one.
    expect(failing(`{ x = ${x}; y = ${y(`{ containerSubnets = "10.0.16.0/24-10.0.17.0/24"; }`)}; }`)).toEqual(
      [
        "services.runner-controller.instances.y.maxConcurrent = 7 is more than the 2 /24 networks of services.runner-controller.instances.y.containerSubnets (10.0.16.0/24-10.0.17.0/24): each container needs one; widen the range or lower maxConcurrent.",
      ],
    );
    expect(failing(`{ x = ${x}; y = ${y(`{ containerSubnets = "10.0.16.0/16-10.0.17.0/24"; }`)}; }`)).toEqual(
      [
        expect.stringMatching(
          /instances\.y\.containerSubnets = "10\.0\.16\.0\/16-10\.0\.17\.0\/24" is not a range of \/24 networks/,
        ),
      ],
    );
  });

  it("asks for exactly one of repo and org, and of tokenFile and the App", () => {
    const failing = (over: string): string[] =>
      nixEval<string[]>(`
        let
          ${PRELUDE}
        in failing (single ${over})`);
    expect(failing(`{ }`)).toEqual([]);
    expect(failing(`{ org = "octo-org"; }`)).toEqual([
      expect.stringMatching(/exactly one of .*\.repo .* and .*\.org/),
    ]);
    expect(failing(`{ repo = null; }`)).toEqual([
      expect.stringMatching(/exactly one of .*\.repo .* and .*\.org/),
    ]);
    expect(failing(`{ repo = null; org = "octo-org"; repos = [ "*" ]; }`)).toEqual([]);
    expect(failing(`{ repos = [ ]; }`)).toEqual([expect.stringMatching(/\.repos/)]);
    expect(failing(`{ repo = null; org = "octo-org"; repos = [ "octo-org/api" ]; }`)).toEqual([
      expect.stringMatching(/\.repos/),
    ]);
    const app = `app = { id = 7; privateKeyFile = "/run/k.pem"; installationId = null; };`;
    expect(failing(`{ tokenFile = null; ${app} }`)).toEqual([]);
    expect(failing(`{ ${app} }`)).toEqual([
      expect.stringMatching(/exactly one of .*\.tokenFile .* and .*\.app\.id/),
    ]);
    expect(failing(`{ tokenFile = null; }`)).toEqual([expect.stringMatching(/exactly one of .*\.tokenFile/)]);
    expect(
      failing(`{ tokenFile = null; app = { id = 7; privateKeyFile = null; installationId = null; }; }`),
    ).toEqual([expect.stringMatching(/the App needs both/)]);
    expect(
      failing(
        `{ tokenFile = null; app = { id = 7; privateKeyFile = "/nix/store/abc-key"; installationId = null; }; }`,
      ),
    ).toEqual([expect.stringMatching(/app\.privateKeyFile .* outside the Nix store/)]);
  });

  it("without instances, the single instance evaluates as before: one service, the environment toEnv makes", () => {
    const facts = nixEval<{ services: string[]; timers: string[]; env: Env; expected: Env; none: unknown }>(`
      let
        ${PRELUDE}
        cfg = single { };
        c = (module cfg).content;
      in {
        services = builtins.attrNames c.systemd.services;
        timers = builtins.attrNames c.systemd.timers;
        env = c.systemd.services.runner-controller.environment;
        expected = {
          MALLOC_ARENA_MAX = "2";
          MALLOC_TRIM_THRESHOLD_ = "65536";
          MALLOC_MMAP_THRESHOLD_ = "65536";
        } // l.toEnv cfg null;
        none = (module (cfg // { enable = false; })).condition;
      }`);
    expect(facts.services).toEqual(["runner-controller"]);
    expect(facts.timers).toEqual([]);
    expect(facts.env).toEqual(facts.expected);
    expect(facts.none).toBe(false);
    const host = { hostname: "host1" };
    expect(loadConfig(facts.env, host)).toEqual(
      loadConfig({ GITHUB_REPO: "o/r", GITHUB_TOKEN_FILE: "/run/t" }, host),
    );
  });
});

if (!hasNix)
  describe("NixOS module: instances.<name>", () => {
    it.skipIf(true)(
      "skipped: nix-instantiate is not installed (Debian: apt-get install nix-bin; CI does)",
      () => {},
    );
  });
