/**
 * A container's private network (NSPAWN_NETWORK=veth): nspawn makes the veth pair (ve-NAME on
 * the host, host0 inside); the host side gets 192.168.N.10/24, the container side .11/24 with a
 * default route via .10 — set from the host with `ip` in the container's network namespace
 * (nsenter), so the container needs no tools of its own. IPv6 address generation is turned off
 * on both ends before they go up: the subnet plan is IPv4 only, and an interface without an
 * IPv6 address sends no neighbour discovery of its own.
 */
import { existsSync } from "node:fs";
import { ControllerError } from "../../errors.js";
import { describeFailure, ok, type ExecResult } from "../../exec/exec.js";
import type { Subnet } from "../../domain/subnets.js";
import { vethName } from "./command.js";

export type Runner = (file: string, args: readonly string[]) => Promise<ExecResult>;

export function vethExists(name: string): boolean {
  return existsSync(`/sys/class/net/${vethName(name)}`);
}

/** Give both ends their addresses and bring them up. Rejects naming the command that failed. */
export async function configureVeth(run: Runner, name: string, initPid: number, net: Subnet): Promise<void> {
  const host = vethName(name);
  const inside = (...args: string[]): [string, string[]] => [
    "nsenter",
    [`--target=${initPid}`, "--net", "--", "ip", ...args],
  ];
  const steps: [string, string[]][] = [
    ["ip", ["link", "set", "dev", host, "addrgenmode", "none"]],
    ["ip", ["address", "add", `${net.hostAddress}/24`, "dev", host]],
    ["ip", ["link", "set", "dev", host, "up"]],
    inside("link", "set", "dev", "host0", "addrgenmode", "none"),
    inside("address", "add", `${net.localAddress}/24`, "dev", "host0"),
    inside("link", "set", "dev", "host0", "up"),
    inside("link", "set", "dev", "lo", "up"),
    inside("route", "add", "default", "via", net.hostAddress),
  ];
  for (const [file, args] of steps) {
    const r = await run(file, args);
    if (!ok(r)) throw new ControllerError("RC_BACKEND_FAILED", `network of ${name}: ${describeFailure(r)}`);
  }
}

/** Remove the host side of the veth link if it is still there (it normally goes with the container). */
export async function removeVeth(run: Runner, name: string): Promise<void> {
  if (!vethExists(name)) return;
  const r = await run("ip", ["link", "delete", "dev", vethName(name)]);
  if (!ok(r) && vethExists(name))
    throw new ControllerError("RC_BACKEND_FAILED", `cannot remove ${vethName(name)}: ${describeFailure(r)}`);
}
