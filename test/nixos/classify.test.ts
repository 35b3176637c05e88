import { describe, expect, it } from "vitest";
import { classifyFailure, explainFailure, type FailureKind } from "../../src/backend/nixos/classify.js";
import { isAtRest, isRunningState, nameOfUnit, parseActiveStates } from "../../src/backend/nixos/units.js";

// The texts the real tools print (nixos-container.pl's die messages, systemctl, iproute2).
const SAMPLES: readonly (readonly [string, FailureKind])[] = [
  ["/run/current-system/sw/bin/nixos-container: container ‘j1234567’ already exists\n", "already-exists"],
  ["/run/current-system/sw/bin/nixos-container: container name ‘j1234567890’ is too long\n", "name-too-long"],
  ["/run/current-system/sw/bin/nixos-container: invalid container name\n", "invalid-name"],
  ["/run/current-system/sw/bin/nixos-container: container ‘j1234567’ does not exist\n", "does-not-exist"],
  ["nixos-container: out of IP addresses\n", "out-of-addresses"],
  [
    "error: path '/nix/store/abc' is not in the Nix store\nnixos-container: failed to set initial container configuration\n",
    "build-failed",
  ],
  ["nixos-container: failed to build initial container configuration\n", "build-failed"],
  ["nixos-container: failed to build container from flake '.'\n", "build-failed"],
  [
    "nixos-container: cannot destroy declarative container (remove it from your configuration.nix instead)\n",
    "declarative",
  ],
  [
    'Job for container@j1.service failed because a timeout was exceeded.\nSee "systemctl status container@j1.service" and "journalctl -xeu container@j1.service" for details.\nnixos-container: failed to start container\n',
    "start-failed",
  ],
  ["nixos-container: failed to stop container\n", "stop-failed"],
  [
    "Failed to reset failed state of unit container@j1.service: Unit container@j1.service not loaded.\n",
    "unit-not-loaded",
  ],
  ['Cannot find device "ve-j1234567"\n', "no-such-device"],
  ["something nobody expected\n", "unknown"],
  ["", "unknown"],
];

describe("classifyFailure", () => {
  it.each(SAMPLES)("%j is %s", (stderr, kind) => {
    expect(classifyFailure(stderr)).toBe(kind);
  });

  it("explains every kind but unknown", () => {
    for (const [, kind] of SAMPLES) {
      if (kind === "unknown") expect(explainFailure(kind)).toBeNull();
      else expect(explainFailure(kind)).toMatch(/\w/);
    }
  });
});

describe("systemctl show parsing", () => {
  it("reads each block by key, whatever the order of properties", () => {
    const out =
      "ActiveState=active\nId=container@j0000001.service\n\nId=container@j0000002.service\nActiveState=failed\n";
    expect([...parseActiveStates(out)]).toEqual([
      ["container@j0000001.service", "active"],
      ["container@j0000002.service", "failed"],
    ]);
  });

  it("maps unit ids to container names and states to running / at rest", () => {
    expect(nameOfUnit("container@j0000001-a.service")).toBe("j0000001-a");
    expect(nameOfUnit("sshd.service")).toBeNull();
    expect(["active", "activating", "reloading"].every(isRunningState)).toBe(true);
    expect(["inactive", "failed", "deactivating", undefined].some(isRunningState)).toBe(false);
    expect(isAtRest("inactive") && isAtRest("failed")).toBe(true);
    expect([isAtRest("deactivating"), isAtRest("activating"), isAtRest(undefined)]).toEqual([
      false,
      false,
      false,
    ]);
  });
});
