/**
 * Per-container subnets: 192.168.N.0/24 for N in 100..199, host side .10, container side .11.
 * One subnet per container, so at most 100 containers.
 */
export const FIRST_SUBNET = 100;
export const LAST_SUBNET = 199;
export const SUBNET_COUNT = LAST_SUBNET - FIRST_SUBNET + 1;

export interface Subnet {
  readonly index: number;
  readonly cidr: string;
  readonly hostAddress: string;
  readonly localAddress: string;
}

export function subnet(index: number): Subnet {
  if (!Number.isInteger(index) || index < FIRST_SUBNET || index > LAST_SUBNET) {
    throw new RangeError(`subnet index ${index} is outside ${FIRST_SUBNET}..${LAST_SUBNET}`);
  }
  return {
    index,
    cidr: `192.168.${index}.0/24`,
    hostAddress: `192.168.${index}.10`,
    localAddress: `192.168.${index}.11`,
  };
}

/** The lowest free subnet index, or null when all are in use. */
export function allocateSubnet(used: Iterable<number>): number | null {
  const taken = new Set(used);
  for (let i = FIRST_SUBNET; i <= LAST_SUBNET; i++) if (!taken.has(i)) return i;
  return null;
}
