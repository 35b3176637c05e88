// A fake NixOS container host for tests: `nixos-container`, `systemctl` and `ip`, each reached
// through a tiny sh wrapper in test/fakes/bin (`node fake-host.mjs TOOL ARGS…`).
//
// It reproduces what the backend depends on, as described in shared/research/nixos.md and the
// real nixos-container.pl: NAME.conf files, the 11-character name limit and its message,
// `destroy` of a missing container exiting 0, `status` printing up/down/gone, `start` that
// blocks until the guest is "ready", errors from `die` with exit codes that vary from call to
// call, and the container@NAME.service unit states behind it all — including the unit's
// Restart=on-failure and RestartForceExitStatus=133: a container killed outside a stop job, or
// a guest that reboots, is started again (ActiveState activating, then active).
//
// World (everything under $FAKE_ROOT):
//   etc/nixos-containers/NAME.conf           container configs (a symlink = a declarative one)
//   var/lib/nixos-containers/NAME/           container roots
//   nix/var/nix/profiles/per-container/NAME  profiles (system -> the system path)
//   run/systemd/system.control/…             set-property --runtime drop-ins
//   etc/systemd/system.control/…             set-property drop-ins without --runtime
//   var/log/journal/ID -> ROOT/var/log/journal/ID   one link per container boot
//   sys/class/net/ve-NAME                    the host side of a running container's veth
//   sys/fs/cgroup/machine.slice/container@NAME.service/   its unit's cgroup (v2) while it runs:
//                                            cpu.stat (usage_usec) and memory.peak, fixed values
//   fake/systems/NAME/nixos                  which nixpkgs' nixos evaluated a --config-file create
//   fake/units/UNIT.json                     unit state: {state, sub?, result, until?, then?}
//                                            (no file = not loaded; `then` is a state name or
//                                            the next record, which may `boot` the guest)
//   fake/behaviour.json                      what tests script (see `behaviour()` below)
//   fake/calls.jsonl                         every invocation: {tool, argv, env}
//   fake/hazards.jsonl                       things the real host would not survive
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

const [tool = "", ...argv] = process.argv.slice(2);
const ROOT = process.env.FAKE_ROOT;
if (!ROOT) {
  process.stderr.write(`${tool}: fake: FAKE_ROOT is not set\n`);
  process.exit(97);
}

const P = {
  conf: path.join(ROOT, "etc/nixos-containers"),
  state: path.join(ROOT, "var/lib/nixos-containers"),
  profiles: path.join(ROOT, "nix/var/nix/profiles/per-container"),
  gcroots: path.join(ROOT, "nix/var/nix/gcroots/per-container"),
  runSystemd: path.join(ROOT, "run/systemd"),
  etcSystemd: path.join(ROOT, "etc/systemd"),
  journal: path.join(ROOT, "var/log/journal"),
  net: path.join(ROOT, "sys/class/net"),
  cgroup: path.join(ROOT, "sys/fs/cgroup/machine.slice"),
  units: path.join(ROOT, "fake/units"),
  calls: path.join(ROOT, "fake/calls.jsonl"),
  hazards: path.join(ROOT, "fake/hazards.jsonl"),
  behaviour: path.join(ROOT, "fake/behaviour.json"),
};

fs.mkdirSync(path.dirname(P.calls), { recursive: true });
fs.appendFileSync(P.calls, JSON.stringify({ tool, argv, env: process.env, at: Date.now() }) + "\n");

/**
 * Scripted behaviour (all optional):
 *   exitCode: number        pin the exit code of nixos-container's `die` (default: varies)
 *   hang: ["TOOL VERB", …]  block forever in that call (e.g. "nixos-container create")
 *   startDelayMs: number    how long `systemctl start container@…` takes to boot
 *   startResult: "fail"     the guest fails to boot
 *   unitTimeoutMs: number   container@'s TimeoutStartSec: a longer boot fails the unit
 *   createResult: "fail-build"  building/setting the initial system fails
 *   destroyLeavesRoot: true     destroy cannot remove the root (as without chattr on PATH)
 *   stopLingerMs: number        after `stop` the unit stays "deactivating" this long
 *   stopIgnored: true           `stop` returns 0 but a running (active) unit stays as it was
 *   restartSecMs: number        container@'s RestartSec (systemd's default: 100 ms)
 */
function behaviour() {
  try {
    return JSON.parse(fs.readFileSync(P.behaviour, "utf8"));
  } catch {
    return {};
  }
}
const B = behaviour();

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function hangIfAsked(verb) {
  if ((B.hang ?? []).includes(`${tool} ${verb}`)) {
    for (;;) sleep(1000);
  }
}

function hazard(what) {
  fs.appendFileSync(P.hazards, JSON.stringify({ what, argv, at: Date.now() }) + "\n");
}

function exists(p) {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

// ── unit states ──────────────────────────────────────────────────────────────

function unitFile(unit) {
  return path.join(P.units, `${unit}.json`);
}

/** The unit's record, with timed transitions applied; null when not loaded. */
function readUnit(unit) {
  let u;
  try {
    u = JSON.parse(fs.readFileSync(unitFile(unit), "utf8"));
  } catch {
    return null;
  }
  let changed = false;
  while (u.until !== undefined && Date.now() >= u.until) {
    u = typeof u.then === "string" ? { state: u.then, result: u.result } : u.then;
    changed = true;
    if (u.boot) {
      delete u.boot;
      const name = containerOf(unit);
      if (name) booted(name);
    }
  }
  if (changed) writeUnit(unit, u);
  return u;
}

function writeUnit(unit, record) {
  fs.mkdirSync(P.units, { recursive: true });
  const tmp = `${unitFile(unit)}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(record));
  fs.renameSync(tmp, unitFile(unit));
}

function containerOf(unit) {
  const m = /^container@(.+)\.service$/.exec(unit);
  return m ? m[1] : null;
}

/**
 * Restart=on-failure (a SIGKILL is a failure) and RestartForceExitStatus=133 (the guest
 * rebooted): RestartSec in state auto-restart, then a start that boots the guest again — all
 * of it ActiveState "activating". A stop meanwhile cancels it.
 */
function restarting(result) {
  const restartAt = Date.now() + (B.restartSecMs ?? 100);
  return {
    state: "activating",
    sub: "auto-restart",
    result,
    until: restartAt,
    then: {
      state: "activating",
      sub: "start",
      result: "success",
      until: restartAt + (B.startDelayMs ?? 0),
      then: { state: "active", result: "success", boot: true },
    },
  };
}

/** The guest is up: the host end of its veth, and a journal link for this boot's machine id. */
function booted(name) {
  fs.mkdirSync(path.join(P.net, `ve-${name}`), { recursive: true });
  makeCgroup(name);
  // --link-journal=try-guest: a fresh machine id per boot, linked from the host journal.
  const id = randomBytes(16).toString("hex");
  const guestJournal = path.join(P.state, name, "var/log/journal", id);
  fs.mkdirSync(guestJournal, { recursive: true });
  fs.mkdirSync(P.journal, { recursive: true });
  fs.symlinkSync(guestJournal, path.join(P.journal, id));
}

/** The container's network namespace is gone: so is the host end of its veth, and its unit's cgroup. */
function dropVeth(name) {
  fs.rmSync(path.join(P.net, `ve-${name}`), { recursive: true, force: true });
  fs.rmSync(path.join(P.cgroup, `container@${name}.service`), { recursive: true, force: true });
}

/** What a running guest has used, as its unit's cgroup (v2) tells: fixed, so tests can check it. */
const FAKE_CGROUP_USAGE = { usageUsec: 2_500_000, memoryPeak: 314_572_800 };
function makeCgroup(name) {
  const dir = path.join(P.cgroup, `container@${name}.service`);
  fs.mkdirSync(dir, { recursive: true });
  const { usageUsec, memoryPeak } = FAKE_CGROUP_USAGE;
  fs.writeFileSync(
    path.join(dir, "cpu.stat"),
    `usage_usec ${usageUsec}\nuser_usec ${usageUsec - 500_000}\nsystem_usec 500000\n`,
  );
  fs.writeFileSync(path.join(dir, "memory.peak"), `${memoryPeak}\n`);
}

// ── systemctl ────────────────────────────────────────────────────────────────

function systemctl() {
  const opts = { props: null, value: false, runtime: false, signal: null };
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-p" || a === "--property") opts.props = [...(opts.props ?? []), ...argv[++i].split(",")];
    else if (a.startsWith("--property=")) opts.props = [...(opts.props ?? []), ...a.slice(11).split(",")];
    else if (a === "--value") opts.value = true;
    else if (a === "--runtime") opts.runtime = true;
    else if (a.startsWith("--signal=")) opts.signal = a.slice(9);
    else if (a === "-s" || a === "--signal") opts.signal = argv[++i];
    else if (["--no-pager", "--no-block", "--quiet", "-q", "--system", "--no-ask-password"].includes(a))
      continue;
    else if (a === "--version") {
      process.stdout.write("systemd 257 (257.fake)\n");
      return 0;
    } else if (a.startsWith("-")) {
      process.stderr.write(`systemctl: unrecognized option '${a}'\n`);
      return 1;
    } else rest.push(a);
  }
  const [verb, ...args] = rest;
  const units = args.map((u) => (u.includes(".") ? u : `${u}.service`));
  // A hanging start is a guest that never reports READY: handled inside start().
  if (verb !== "start") hangIfAsked(verb);
  switch (verb) {
    case "show":
      return show(units, opts);
    case "start":
      return units.reduce((rc, u) => rc || start(u), 0);
    case "stop":
      return units.reduce((rc, u) => rc || stop(u), 0);
    case "kill":
      for (const u of units) {
        const cur = readUnit(u);
        if (cur && cur.state !== "inactive" && cur.state !== "failed") {
          const name = containerOf(u);
          // Killed during a stop job: it stays down. Otherwise Restart=on-failure starts it again.
          const restart = name !== null && cur.state !== "deactivating" && cur.sub !== "auto-restart";
          writeUnit(u, restart ? restarting("signal") : { state: "failed", result: "signal" });
          if (name) dropVeth(name);
        }
      }
      return 0;
    case "reset-failed":
      for (const u of units) {
        const cur = readUnit(u);
        if (!cur) {
          process.stderr.write(`Failed to reset failed state of unit ${u}: Unit ${u} not loaded.\n`);
          return 1;
        }
        if (cur.state === "failed" || cur.state === "inactive") fs.rmSync(unitFile(u), { force: true });
      }
      return 0;
    case "set-property":
      return setProperty(units[0], args.slice(1), opts.runtime);
    case "daemon-reload":
      return 0;
    case "is-active": {
      const cur = readUnit(units[0]);
      const state = cur ? cur.state : "inactive";
      process.stdout.write(`${state}\n`);
      return state === "active" ? 0 : 3;
    }
    case undefined:
      process.stderr.write("fake systemctl: listing units is not emulated\n");
      return 1;
    default:
      process.stderr.write(`Unknown command verb '${verb}'.\n`);
      return 1;
  }
}

function show(units, opts) {
  const wanted = opts.props ?? ["Id", "LoadState", "ActiveState", "SubState", "Result"];
  const blocks = units.map((u) => {
    const isContainer = containerOf(u) !== null;
    const cur = readUnit(u);
    const state = cur ? cur.state : "inactive";
    const all = {
      Id: u,
      LoadState: isContainer ? "loaded" : "not-found",
      ActiveState: state,
      SubState:
        cur?.sub ??
        { active: "running", activating: "start", deactivating: "stop-sigterm", failed: "failed" }[state] ??
        "dead",
      Result: cur?.result ?? "success",
    };
    return wanted.map((k) => (opts.value ? `${all[k] ?? ""}` : `${k}=${all[k] ?? ""}`)).join("\n") + "\n";
  });
  process.stdout.write(blocks.join("\n"));
  return 0;
}

function failedJob(unit, why) {
  process.stderr.write(
    `Job for ${unit} failed because ${why}.\nSee "systemctl status ${unit}" and "journalctl -xeu ${unit}" for details.\n`,
  );
  return 1;
}

function start(unit) {
  const name = containerOf(unit);
  if (!name) {
    process.stderr.write(`Failed to start ${unit}: Unit ${unit} not found.\n`);
    return 5;
  }
  const cur = readUnit(unit);
  if (cur?.state === "active") return 0;
  if (!exists(path.join(P.conf, `${name}.conf`))) {
    writeUnit(unit, { state: "failed", result: "exit-code" });
    return failedJob(unit, "the control process exited with error code");
  }
  // The start job runs until the guest reports READY; a `stop` meanwhile cancels it.
  const token = randomBytes(6).toString("hex");
  writeUnit(unit, { state: "activating", result: "success", job: token });
  const began = Date.now();
  const delay = B.startDelayMs ?? 0;
  const hang = (B.hang ?? []).includes("systemctl start");
  for (;;) {
    const now = readUnit(unit);
    if (!now || now.state !== "activating" || now.job !== token) {
      process.stderr.write(`Job for ${unit} canceled.\n`);
      return 1;
    }
    if (B.unitTimeoutMs !== undefined && Date.now() - began >= B.unitTimeoutMs) {
      writeUnit(unit, { state: "failed", result: "timeout" });
      return failedJob(unit, "a timeout was exceeded");
    }
    if (!hang && Date.now() - began >= delay) break;
    sleep(20);
  }
  if (B.startResult === "fail") {
    writeUnit(unit, { state: "failed", result: "exit-code" });
    return failedJob(unit, "the control process exited with error code");
  }
  writeUnit(unit, { state: "active", result: "success" });
  booted(name);
  return 0;
}

function stop(unit) {
  const cur = readUnit(unit);
  if (!cur || cur.state === "inactive" || cur.state === "failed") return 0;
  // A pending restart is cancelled; the unit comes to rest with the result that caused it.
  if (cur.sub === "auto-restart") {
    writeUnit(unit, { state: cur.result === "success" ? "inactive" : "failed", result: cur.result });
    return 0;
  }
  if (B.stopIgnored && cur.state === "active") return 0;
  const name = containerOf(unit);
  if (name) dropVeth(name);
  if (B.stopLingerMs) {
    writeUnit(unit, {
      state: "deactivating",
      result: "success",
      until: Date.now() + B.stopLingerMs,
      then: "inactive",
    });
  } else {
    writeUnit(unit, { state: "inactive", result: "success" });
  }
  return 0;
}

const KNOWN_PROPERTIES = new Set([
  "CPUQuota",
  "MemoryMax",
  "MemoryHigh",
  "MemorySwapMax",
  "TasksMax",
  "CPUWeight",
  "IOWeight",
]);

function setProperty(unit, assignments, runtime) {
  if (!unit || assignments.length === 0) {
    process.stderr.write("Too few arguments.\n");
    return 1;
  }
  for (const a of assignments) {
    const eq = a.indexOf("=");
    const key = eq > 0 ? a.slice(0, eq) : a;
    if (eq <= 0 || !KNOWN_PROPERTIES.has(key)) {
      process.stderr.write(
        `Failed to set unit properties on ${unit}: Cannot set property ${key}, or unknown property.\n`,
      );
      return 1;
    }
  }
  if (!readUnit(unit)) writeUnit(unit, { state: "inactive", result: "success" });
  const dir = path.join(runtime ? P.runSystemd : P.etcSystemd, "system.control", `${unit}.d`);
  fs.mkdirSync(dir, { recursive: true });
  for (const a of assignments) {
    const eq = a.indexOf("=");
    fs.writeFileSync(
      path.join(dir, `50-${a.slice(0, eq)}.conf`),
      `# This is a drop-in unit file extension, created via "systemctl set-property"\n# or an equivalent operation. Do not edit.\n[Service]\n${a}\n`,
    );
  }
  return 0;
}

// ── ip ───────────────────────────────────────────────────────────────────────

function ip() {
  const [object, verb, ...rest] = argv;
  if (object !== "link") {
    process.stderr.write(`Object "${object ?? ""}" is unknown, try "ip help".\n`);
    return 255;
  }
  const dev = rest[0] === "dev" ? rest[1] : rest[0];
  if (verb === "delete" || verb === "del") {
    if (!dev || !exists(path.join(P.net, dev))) {
      process.stderr.write(`Cannot find device "${dev ?? ""}"\n`);
      return 1;
    }
    fs.rmSync(path.join(P.net, dev), { recursive: true, force: true });
    return 0;
  }
  if (verb === "show") {
    if (!dev || !exists(path.join(P.net, dev))) {
      process.stderr.write(`Device "${dev ?? ""}" does not exist.\n`);
      return 1;
    }
    process.stdout.write(`7: ${dev}@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n`);
    return 0;
  }
  process.stderr.write(`Command "${verb ?? ""}" is unknown, try "ip link help".\n`);
  return 255;
}

// ── nixos-container (after nixos-container.pl) ───────────────────────────────

const SELF = process.env.FAKE_SELF ?? "nixos-container";
// Perl's `die` exits with $! if set, else $? >> 8, else 255: it varies with whatever failed last.
const DIE_CODES = [1, 2, 4, 9, 13, 17, 22, 25, 255];

function die(message) {
  // A message without a trailing newline gets Perl's " at FILE line N." suffix.
  process.stderr.write(
    message.endsWith("\n") ? message : `${message} at ${SELF} line ${100 + message.length}.\n`,
  );
  process.exit(B.exitCode ?? DIE_CODES[Math.floor(Math.random() * DIE_CODES.length)]);
}

const VALUE_OPTS = new Set([
  "bridge",
  "port",
  "system-path",
  "signal",
  "nixos-path",
  "config",
  "config-file",
  "host-address",
  "local-address",
  "flake",
  "log-format",
  "update-input",
]);
const TWO_VALUE_OPTS = new Set(["option", "override-input"]);
const FLAG_OPTS = new Set([
  "help",
  "ensure-unique-name",
  "auto-start",
  "impure",
  "commit-lock-file",
  "no-registries",
  "no-update-lock-file",
  "no-write-lock-file",
  "no-allow-dirty",
  "recreate-lock-file",
]);

function parseOptions(args) {
  const o = {};
  const positional = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith("--")) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const key = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (VALUE_OPTS.has(key)) o[key] = eq > 0 ? a.slice(eq + 1) : args[++i];
    else if (TWO_VALUE_OPTS.has(key)) i += 2;
    else if (FLAG_OPTS.has(key)) o[key] = true;
    else {
      process.stderr.write(`Unknown option: ${key}\n`);
      process.exit(1);
    }
  }
  return { o, positional };
}

function nestedSystemctl(args) {
  const r = spawnSync("systemctl", args, { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
  return { status: r.status ?? 1, stdout: r.stdout ?? "" };
}

function isContainerRunning(name) {
  return /ActiveState=active\b/.test(nestedSystemctl(["show", `container@${name}`]).stdout);
}

/**
 * What `nix-env -f <nixpkgs/nixos>` resolves to — or, with --nixos-path, `-f NIXOS_PATH` — as
 * {path}, or the error Nix prints as {error}. `<nixpkgs/nixos>` is looked up on NIX_PATH only:
 * `nixpkgs=P` gives P/nixos, a plain entry D gives D/nixpkgs/nixos. A service has no NIX_PATH
 * unless it is given one, and flake-based hosts have no channel to point it at.
 */
function nixosToEvaluate(nixosPath) {
  if (nixosPath !== undefined) {
    const p = path.resolve(nixosPath);
    return exists(p) ? { path: p } : { error: `error: getting status of '${p}': No such file or directory` };
  }
  for (const entry of (process.env.NIX_PATH ?? "").split(":")) {
    const eq = entry.indexOf("=");
    let candidate = null;
    if (eq < 0 && entry !== "") candidate = path.join(entry, "nixpkgs/nixos");
    else if (entry.slice(0, eq) === "nixpkgs") candidate = path.join(entry.slice(eq + 1), "nixos");
    if (candidate !== null && path.isAbsolute(candidate) && exists(candidate)) return { path: candidate };
  }
  return {
    error: "error: file 'nixpkgs/nixos' was not found in the Nix search path (add it using $NIX_PATH or -I)",
  };
}

function clearContainerState(name, profileDir, confFile) {
  fs.rmSync(profileDir, { recursive: true, force: true });
  fs.rmSync(path.join(P.gcroots, name), { recursive: true, force: true });
  if (!B.destroyLeavesRoot) fs.rmSync(path.join(P.state, name), { recursive: true, force: true });
  fs.unlinkSync(confFile);
}

function nixosContainer() {
  const { o, positional } = parseOptions(argv);
  if (o.help) {
    process.stdout.write("Usage: nixos-container list\n       nixos-container create <container-name> …\n");
    return 0;
  }
  if ((o["host-address"] === undefined) !== (o["local-address"] === undefined)) {
    die("With --host-address set, --local-address is required as well!");
  }
  const action = positional[0];
  if (!action) die(`${SELF}: no action specified\n`);
  if (o.config !== undefined && o["config-file"] !== undefined) {
    die("--config and --config-file are mutually incompatible. Please define one or the other, but not both");
  }
  fs.mkdirSync(P.conf, { recursive: true, mode: 0o755 });
  fs.mkdirSync(P.state, { recursive: true, mode: 0o700 });

  if (action === "list") {
    for (const f of fs.readdirSync(P.conf).sort()) {
      if (f.endsWith(".conf")) process.stdout.write(`${f.slice(0, -5)}\n`);
    }
    return 0;
  }

  const name = positional[1];
  if (!name) die(`${SELF}: no container name specified\n`);
  if (!/^[a-zA-Z0-9_-]+$/.test(name)) die(`${SELF}: invalid container name\n`);
  const confFile = path.join(P.conf, `${name}.conf`);
  const root = path.join(P.state, name);
  const profileDir = path.join(P.profiles, name);

  if (action === "create") {
    if (exists(confFile)) die(`${SELF}: container ‘${name}’ already exists\n`);
    if (name.length > 11) die(`${SELF}: container name ‘${name}’ is too long\n`);
    let host = o["host-address"];
    let local = o["local-address"];
    if (host === undefined) {
      const used = new Set();
      for (const f of fs.readdirSync(P.conf)) {
        if (!f.endsWith(".conf")) continue;
        const s = fs.readFileSync(path.join(P.conf, f), "utf8");
        for (const m of s.matchAll(/^(?:HOST|LOCAL)_ADDRESS=([0-9.]+)$/gm)) used.add(m[1]);
      }
      for (let nr = 1; nr < 255 && host === undefined; nr++) {
        if (!used.has(`10.233.${nr}.1`) && !used.has(`10.233.${nr}.2`)) {
          host = `10.233.${nr}.1`;
          local = `10.233.${nr}.2`;
        }
      }
      if (host === undefined) die(`${SELF}: out of IP addresses\n`);
    }
    const conf = [
      "PRIVATE_NETWORK=1",
      `HOST_ADDRESS=${host}`,
      `LOCAL_ADDRESS=${local}`,
      `HOST_BRIDGE=${o.bridge ?? ""}`,
      `HOST_PORT=${o.port ?? ""}`,
      `AUTO_START=${o["auto-start"] ? 1 : 0}`,
    ];
    if (o.flake !== undefined) conf.push(`FLAKE=${o.flake}`);
    fs.writeFileSync(confFile, conf.join("\n") + "\n", { mode: 0o644 });
    process.stderr.write(`host IP is ${host}, container IP is ${local}\n`);
    fs.mkdirSync(profileDir, { recursive: true, mode: 0o755 });
    // Building or setting the system takes the time; a killed create leaves the conf behind.
    hangIfAsked("create");
    if (o["system-path"] !== undefined) {
      const sys = o["system-path"];
      if (B.createResult === "fail-build" || !exists(sys)) {
        process.stderr.write(`error: getting status of '${sys}': No such file or directory\n`);
        clearContainerState(name, profileDir, confFile);
        die(`${SELF}: failed to set initial container configuration\n`);
      }
      fs.symlinkSync(sys, path.join(profileDir, "system"));
    } else {
      fs.mkdirSync(path.join(root, "etc/nixos"), { recursive: true, mode: 0o755 });
      const file = o["config-file"] !== undefined ? path.resolve(o["config-file"]) : null;
      const extra = file !== null ? `imports = [ ${file} ];` : (o.config ?? "");
      fs.writeFileSync(
        path.join(root, "etc/nixos/configuration.nix"),
        `{ config, lib, pkgs, ... }:\n\n{ boot.isContainer = true;\n  networking.hostName = lib.mkDefault "${name}";\n  networking.useDHCP = false;\n  ${extra}\n}\n`,
      );
      // nix-env -p PROFILE -I nixos-config=… -f <nixpkgs/nixos> (or -f NIXOS_PATH) --set -A system
      const nixos = o.flake === undefined ? nixosToEvaluate(o["nixos-path"]) : { path: null };
      const missing =
        nixos.error ??
        (B.createResult === "fail-build" || (file !== null && !exists(file))
          ? `error: getting status of '${file ?? "configuration.nix"}': No such file or directory`
          : null);
      if (missing !== null) {
        process.stderr.write(`${missing}\n`);
        clearContainerState(name, profileDir, confFile);
        die(`${SELF}: failed to build initial container configuration\n`);
      }
      fs.mkdirSync(path.join(ROOT, "fake/systems", name), { recursive: true });
      // Which nixpkgs built it, for tests to check.
      fs.writeFileSync(path.join(ROOT, "fake/systems", name, "nixos"), `${nixos.path ?? ""}\n`);
      fs.symlinkSync(path.join(ROOT, "fake/systems", name), path.join(profileDir, "system"));
    }
    if (o["ensure-unique-name"]) process.stdout.write(`${name}\n`);
    return 0;
  }

  if (!exists(confFile)) {
    if (action === "destroy") return 0;
    if (action === "status") process.stdout.write("gone\n");
    die(`${SELF}: container ‘${name}’ does not exist\n`);
  }

  switch (action) {
    case "destroy": {
      hangIfAsked("destroy");
      // A declarative container's conf lives in the read-only /etc tree (here: it is a symlink).
      if (fs.lstatSync(confFile).isSymbolicLink()) {
        die(
          `${SELF}: cannot destroy declarative container (remove it from your configuration.nix instead)\n`,
        );
      }
      const unit = `container@${name}.service`;
      const cur = readUnit(unit);
      if (isContainerRunning(name)) {
        // machinectl terminate, then wait for the leader to exit.
        writeUnit(unit, { state: "inactive", result: "success" });
        dropVeth(name);
      } else if (cur && (cur.state === "activating" || cur.state === "deactivating")) {
        hazard(
          `destroy of ${name} while its unit is ${cur.state}: the root is removed under a running nspawn`,
        );
      }
      clearContainerState(name, profileDir, confFile);
      return 0;
    }
    case "start":
      if (nestedSystemctl(["start", `container@${name}`]).status !== 0)
        die(`${SELF}: failed to start container\n`);
      return 0;
    case "stop":
      if (nestedSystemctl(["stop", `container@${name}`]).status !== 0)
        die(`${SELF}: failed to stop container\n`);
      return 0;
    case "restart":
      if (nestedSystemctl(["stop", `container@${name}`]).status !== 0)
        die(`${SELF}: failed to stop container\n`);
      if (nestedSystemctl(["start", `container@${name}`]).status !== 0)
        die(`${SELF}: failed to start container\n`);
      return 0;
    case "terminate":
      if (!isContainerRunning(name)) die("unable to get container's main PID\n");
      writeUnit(`container@${name}.service`, { state: "inactive", result: "success" });
      dropVeth(name);
      return 0;
    case "status":
      process.stdout.write(isContainerRunning(name) ? "up\n" : "down\n");
      return 0;
    case "show-ip": {
      const s = fs.readFileSync(confFile, "utf8");
      const m = /^LOCAL_ADDRESS=([0-9.]+)(\/[0-9]+)?$/m.exec(s);
      if (!m) die(`${SELF}: cannot get IP address\n`);
      process.stdout.write(`${m[1]}\n`);
      return 0;
    }
    case "update":
    case "login":
    case "root-login":
    case "run":
    case "show-host-key":
      die(`${SELF}: fake: ‘${action}’ is not emulated\n`);
      return 1;
    default:
      die(`${SELF}: unknown action ‘${action}’\n`);
      return 1;
  }
}

// ── what happens inside a guest (tests only) ─────────────────────────────────

/** `guest reboot NAME`: nspawn exits 133, which RestartForceExitStatus=133 restarts. */
function guest() {
  const [verb, name] = argv;
  const unit = `container@${name}.service`;
  const cur = readUnit(unit);
  if (verb !== "reboot" || !cur || cur.state !== "active") {
    process.stderr.write(`fake guest: cannot ${verb ?? "?"} ${name ?? "?"}\n`);
    return 1;
  }
  writeUnit(unit, restarting("success"));
  dropVeth(name);
  return 0;
}

let rc;
switch (tool) {
  case "systemctl":
    rc = systemctl();
    break;
  case "ip":
    rc = ip();
    break;
  case "nixos-container":
    rc = nixosContainer();
    break;
  case "guest":
    rc = guest();
    break;
  default:
    process.stderr.write(`fake-host: unknown tool ${tool}\n`);
    rc = 98;
}
process.exit(rc);
