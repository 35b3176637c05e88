/** The argument lists of nixos-container and systemctl calls (made from checked options only), and the cancelled-create error. */
import { ControllerError } from "../../errors.js";
import type { CreateSpec } from "../../ports.js";
import type { NixosContainerBackendOptions } from "./options.js";

/** `nixos-container create NAME --system-path P|--config-file T [--nixos-path N] --host-address H --local-address L`. */
export function createArgs(options: NixosContainerBackendOptions, name: string, spec: CreateSpec): string[] {
  const { source, nixosPath } = options;
  return [
    "create",
    name,
    ...(source.kind === "system"
      ? ["--system-path", source.path]
      : ["--config-file", source.path, ...(nixosPath !== undefined ? ["--nixos-path", nixosPath] : [])]),
    "--host-address",
    spec.subnet.hostAddress,
    "--local-address",
    spec.subnet.localAddress,
  ];
}

/** The properties for `systemctl set-property --runtime`. */
export function limitProperties(options: NixosContainerBackendOptions): string[] {
  const { cpuQuota, memoryMax, tasksMax } = options.limits;
  const props: string[] = [];
  if (cpuQuota !== null) props.push(`CPUQuota=${cpuQuota}`);
  if (memoryMax !== null) props.push(`MemoryMax=${memoryMax}`);
  props.push("MemorySwapMax=0");
  if (tasksMax !== null) props.push(`TasksMax=${tasksMax}`);
  return props;
}

/** The error for a create given up (its time ran out) or cancelled. */
export function cancelledError(signal: AbortSignal, name: string): ControllerError {
  const reason: unknown = signal.reason;
  const timeout = reason instanceof DOMException && reason.name === "TimeoutError";
  return new ControllerError(
    timeout ? "RC_BACKEND_TIMEOUT" : "RC_BACKEND_FAILED",
    timeout
      ? `creating container ${name} took too long; given up`
      : `creating container ${name} was cancelled`,
    { cause: reason },
  );
}
