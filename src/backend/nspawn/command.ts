/**
 * The nspawn backend's command lines and the files it puts into a container — pure, so they can
 * be checked without running anything. Nothing secret is ever part of a command line: the
 * runner's inputs go into files of the container's private directory (see `inputFiles`).
 */
import type { NspawnConfig } from "../../config.js";
import type { RunnerSecret } from "../../ports.js";

/** Where the container's private directory appears inside it when the payload is RUNNER_COMMAND. */
export const PAYLOAD_DIR = "/run/runner-controller";
/** Where it appears when the root boots: nix/ci-container-template.nix reads runner.json there. */
export const BOOT_SECRET_DIR = "/var/lib/runner-secret";

export interface Limits {
  readonly cpuQuota: string | null;
  readonly memoryMax: string | null;
  readonly tasksMax: string | null;
}

export interface LaunchPlan {
  readonly name: string;
  readonly nspawn: NspawnConfig & { readonly root: string };
  readonly privateDir: string;
  readonly upperDir: string;
  /** RUNNER_COMMAND (a path inside the container), for NSPAWN_BOOT=false. */
  readonly runnerCommand: string | undefined;
  /** CONTAINER_SYSTEM: booted through its `init` when NSPAWN_BOOT=true. */
  readonly system: string | undefined;
  /** Wrap the container in a transient systemd scope with these limits (systemd is PID 1). */
  readonly limits: Limits | null;
}

/** The host side of a container's veth link (at most 15 characters for our names). */
export function vethName(name: string): string {
  return `ve-${name}`;
}

/** The transient unit a container runs in where systemd is PID 1. */
export function unitName(name: string): string {
  return `runner-${name}`;
}

/** Paths nspawn takes in `A:B:C` options cannot hold a colon (nor anything odd). */
function plainPath(path: string, what: string): string {
  if (!/^\/[A-Za-z0-9._+@/-]*$/.test(path))
    throw new Error(`${what} ${JSON.stringify(path)} is not a plain path`);
  return path;
}

/** The systemd-nspawn arguments for one container (without the program name). */
export function nspawnArgs(plan: LaunchPlan): string[] {
  const { nspawn } = plan;
  const root = plainPath(nspawn.root, "NSPAWN_ROOT");
  const args = [
    "--quiet",
    // Without systemd as PID 1 there is no unit to register; with it, the scope we made is the unit.
    "--keep-unit",
    "--register=no",
    "--link-journal=no",
    `--machine=${plan.name}`,
    `--directory=${root}`,
  ];
  if (nspawn.volatile === "yes") args.push("--volatile=yes");
  else args.push(`--overlay=${root}:${plainPath(plan.upperDir, "the upper directory")}:/`);
  for (const b of nspawn.bindRo) {
    args.push(
      `--bind-ro=${plainPath(b.host, "NSPAWN_BIND_RO")}${b.container === b.host ? "" : `:${plainPath(b.container, "NSPAWN_BIND_RO")}`}`,
    );
  }
  const inside = nspawn.boot ? BOOT_SECRET_DIR : PAYLOAD_DIR;
  args.push(`--bind=${plainPath(plan.privateDir, "the private directory")}:${inside}`);
  if (nspawn.network === "veth") args.push("--network-veth");
  if (nspawn.boot) {
    // Orderly shutdown of a booted system on SIGTERM (nspawn's default for --boot as well).
    args.push("--kill-signal=SIGRTMIN+3", "--console=read-only");
    if (plan.system !== undefined) args.push("--", `${plainPath(plan.system, "CONTAINER_SYSTEM")}/init`);
    else args.push("--boot");
    return args;
  }
  if (plan.runnerCommand === undefined) throw new Error("RUNNER_COMMAND is needed when NSPAWN_BOOT=false");
  args.push(
    "--as-pid2",
    "--console=pipe",
    "--setenv=HOME=/root",
    "--setenv=LANG=C.UTF-8",
    // The runner runs as the container's root; the official run.sh refuses that without this.
    "--setenv=RUNNER_ALLOW_RUNASROOT=1",
    "--",
    "/bin/sh",
    `${PAYLOAD_DIR}/entry`,
    plan.runnerCommand,
  );
  return args;
}

/** The program and arguments that start the container (under systemd-run when limits apply). */
export function launchCommand(plan: LaunchPlan): { file: string; args: string[] } {
  const nspawn = nspawnArgs(plan);
  if (plan.limits === null) return { file: "systemd-nspawn", args: nspawn };
  const { cpuQuota, memoryMax, tasksMax } = plan.limits;
  const properties = [
    ...(cpuQuota !== null ? [`CPUQuota=${cpuQuota}`] : []),
    ...(memoryMax !== null ? [`MemoryMax=${memoryMax}`, "MemorySwapMax=0"] : ["MemorySwapMax=0"]),
    ...(tasksMax !== null ? [`TasksMax=${tasksMax}`] : []),
  ];
  return {
    file: "systemd-run",
    args: [
      // A scope runs the command in the foreground: its pid is nspawn's, and it leaves our cgroup.
      "--scope",
      "--quiet",
      "--collect",
      `--unit=${unitName(plan.name)}`,
      ...properties.map((p) => `--property=${p}`),
      "--",
      "systemd-nspawn",
      ...nspawn,
    ],
  };
}

/**
 * The payload's entry (run by the container's /bin/sh): says it started (the backend's create
 * waits for that), waits for its network when it has a
 * private one, moves each input file of env/ into the environment and deletes it, then runs the
 * runner in its place.
 */
export const ENTRY_SCRIPT = `# runner-controller: the container's entry (NSPAWN_BOOT=false).
set -eu
dir=${PAYLOAD_DIR}
: > "$dir/started"
if [ -e "$dir/wait-for-network" ]; then
  tries=0
  while [ ! -e "$dir/network-ready" ]; do
    tries=$((tries + 1))
    if [ "$tries" -gt 6000 ]; then echo "runner-controller: the network was never configured" >&2; exit 1; fi
    sleep 0.05
  done
fi
for input in "$dir"/env/*; do
  [ -e "$input" ] || continue
  value=$(cat "$input")
  rm -f "$input"
  export "\${input##*/}=$value"
done
rmdir "$dir/env" 2>/dev/null || true
mkdir -p "$HOME"
cd "$HOME"
exec "$@"
`;

/** The runner's inputs as files of env/ (name → content): what the official runner reads from its environment. */
export function inputFiles(secret: RunnerSecret): Record<string, string> {
  if (secret.kind === "jit") return { ACTIONS_RUNNER_INPUT_JITCONFIG: secret.encodedJitConfig };
  return {
    ACTIONS_RUNNER_INPUT_URL: secret.url,
    ACTIONS_RUNNER_INPUT_TOKEN: secret.token,
    ACTIONS_RUNNER_INPUT_NAME: secret.runnerName,
    ACTIONS_RUNNER_INPUT_LABELS: secret.labels.join(","),
    ACTIONS_RUNNER_INPUT_EPHEMERAL: "true",
    ACTIONS_RUNNER_INPUT_UNATTENDED: "true",
  };
}
