/**
 * What went wrong with a nixos-container, systemctl or ip call, read from its stderr.
 *
 * nixos-container is a Perl script whose errors come from `die`: the exit status is whatever
 * errno or child status happened to be set (1, 2, 25, 255, …), so it says nothing about the
 * cause. Only the text does. systemctl and ip are steadier, but the same rule keeps one habit.
 */
export type FailureKind =
  | "already-exists"
  | "name-too-long"
  | "invalid-name"
  | "does-not-exist"
  | "out-of-addresses"
  | "build-failed"
  | "declarative"
  | "start-failed"
  | "stop-failed"
  | "unit-not-loaded"
  | "no-such-device"
  | "unknown";

/** Most specific first: a failed start also mentions the unit, a failed build also mentions errors. */
const PATTERNS: readonly (readonly [FailureKind, RegExp])[] = [
  ["declarative", /cannot destroy declarative container/i],
  ["already-exists", /container ‘[^’]*’ already exists|already exists/i],
  ["name-too-long", /container name ‘[^’]*’ is too long|is too long/i],
  ["invalid-name", /invalid container name/i],
  ["does-not-exist", /container ‘[^’]*’ does not exist/i],
  ["out-of-addresses", /out of IP addresses/i],
  [
    "build-failed",
    /failed to (?:set|build) initial container configuration|failed to build container from flake/i,
  ],
  ["start-failed", /failed to start container|Job for container@\S+ (?:failed|canceled)/i],
  ["stop-failed", /failed to stop container/i],
  ["unit-not-loaded", /Unit \S+ not loaded/i],
  ["no-such-device", /Cannot find device|does not exist\.?\s*$/im],
];

export function classifyFailure(stderr: string): FailureKind {
  for (const [kind, re] of PATTERNS) if (re.test(stderr)) return kind;
  return "unknown";
}

/** A sentence for each kind, for error messages; `null` where the raw output says it best. */
export function explainFailure(kind: FailureKind): string | null {
  switch (kind) {
    case "already-exists":
      return "a container of that name already exists";
    case "name-too-long":
      return "nixos-container allows at most 11 characters in a container name";
    case "invalid-name":
      return "nixos-container rejected the container name";
    case "does-not-exist":
      return "the container does not exist";
    case "out-of-addresses":
      return "nixos-container ran out of automatic addresses";
    case "build-failed":
      return "the container's NixOS system could not be set up";
    case "declarative":
      return "it is a declarative container (defined in the host configuration), not one of ours";
    case "start-failed":
      return "the container did not boot";
    case "stop-failed":
      return "the container did not stop";
    case "unit-not-loaded":
      return "systemd has no such unit loaded";
    case "no-such-device":
      return "no such network interface";
    case "unknown":
      return null;
  }
}
