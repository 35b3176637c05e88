/**
 * Per-container subnets: one IPv4 /24 per container, host side .10, container side .11, taken
 * from the configured range (CONTAINER_SUBNETS, default 192.168.100.0/24-192.168.199.0/24), so
 * several instances on one host can be given disjoint ranges.
 *
 * A subnet is identified by its /24 network number: the network address shifted right by 8
 * (192.168.100.0 → 0xC0A864). That number is what container records store. A stored value below
 * 256 comes from a state file written before ranges were configurable, when records held only the
 * third octet: it means 192.168.N.0/24.
 */

/** A range of /24 networks, first to last inclusive (network numbers, first ≤ last). */
export interface SubnetRange {
  readonly first: number;
  readonly last: number;
}

export interface Subnet {
  /** The /24 network number (address >>> 8). */
  readonly index: number;
  readonly cidr: string;
  readonly hostAddress: string;
  readonly localAddress: string;
}

const LEGACY_BASE = (192 << 16) | (168 << 8);
const MAX_NETWORK = 0xffffff;

/** The /24 network number of a stored subnet value (a legacy third octet is 192.168.N.0/24). */
export function networkNumber(stored: number): number {
  if (!Number.isInteger(stored) || stored < 0 || stored > MAX_NETWORK) {
    throw new RangeError(`subnet ${stored} is not a /24 network number`);
  }
  return stored < 256 ? LEGACY_BASE + stored : stored;
}

function dotted(network: number, host: number): string {
  return `${network >>> 16}.${(network >>> 8) & 255}.${network & 255}.${host}`;
}

/** The subnet a record stores (a network number, or a legacy third octet of 192.168.N.0/24). */
export function subnet(stored: number): Subnet {
  const index = networkNumber(stored);
  return {
    index,
    cidr: `${dotted(index, 0)}/24`,
    hostAddress: dotted(index, 10),
    localAddress: dotted(index, 11),
  };
}

/** The range 192.168.100.0/24-192.168.199.0/24: 100 subnets, as before ranges were configurable. */
export const DEFAULT_SUBNET_RANGE: SubnetRange = Object.freeze({
  first: LEGACY_BASE + 100,
  last: LEGACY_BASE + 199,
});

/** How many /24 networks the range holds. */
export function subnetCount(range: SubnetRange): number {
  return range.last - range.first + 1;
}

/** `A.B.C.0/24-D.E.F.0/24`, as CONTAINER_SUBNETS is written. */
export function formatSubnetRange(range: SubnetRange): string {
  return `${subnet(range.first).cidr}-${subnet(range.last).cidr}`;
}

/** Whether two ranges share a /24. */
export function rangesOverlap(a: SubnetRange, b: SubnetRange): boolean {
  return a.first <= b.last && b.first <= a.last;
}

const CIDR_24_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** The network number of `A.B.C.0/24`, or why it is not one. */
function parseNetwork(text: string): number | string {
  const m = CIDR_24_RE.exec(text.trim());
  if (!m) return `${JSON.stringify(text.trim())} is not an IPv4 network written A.B.C.0/24`;
  const [a, b, c, d] = [m[1], m[2], m[3], m[4]].map(Number) as [number, number, number, number];
  if ([a, b, c, d].some((octet) => octet > 255)) return `${text.trim()} has an octet above 255`;
  if (m[5] !== "24") return `${text.trim()} is a /${m[5]}, not a /24`;
  if (d !== 0) return `${text.trim()} is not a network address (its last octet must be 0)`;
  if (a === 0 || a === 127 || a >= 224) {
    return `${text.trim()} is not usable for container addresses (0/8, 127/8 and 224.0.0.0 upwards are reserved)`;
  }
  return (a << 16) | (b << 8) | c;
}

/** Parse `FIRST/24-LAST/24` (inclusive, first ≤ last), or say what is wrong with it. */
export function parseSubnetRange(raw: string): SubnetRange | string {
  const parts = raw.trim().split("-");
  if (parts.length !== 2) return "is not a range written FIRST-LAST, e.g. 192.168.100.0/24-192.168.199.0/24";
  const first = parseNetwork(parts[0]!);
  if (typeof first === "string") return first;
  const last = parseNetwork(parts[1]!);
  if (typeof last === "string") return last;
  if (first > last) return `starts after it ends (${parts[0]!.trim()} is after ${parts[1]!.trim()})`;
  return Object.freeze({ first, last });
}

/**
 * The lowest free subnet of `range`, or null when all are in use. `used` holds stored values
 * (network numbers, or legacy third octets); anything else in it is ignored.
 */
export function allocateSubnet(
  used: Iterable<number>,
  range: SubnetRange = DEFAULT_SUBNET_RANGE,
): number | null {
  const taken = new Set<number>();
  // A value that is no subnet at all (a damaged record) takes none.
  for (const u of used) if (Number.isInteger(u) && u >= 0 && u <= MAX_NETWORK) taken.add(networkNumber(u));
  for (let n = range.first; n <= range.last; n++) if (!taken.has(n)) return n;
  return null;
}
