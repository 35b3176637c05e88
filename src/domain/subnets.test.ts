import { describe, expect, it } from "vitest";
import {
  allocateSubnet,
  DEFAULT_SUBNET_RANGE,
  formatSubnetRange,
  networkNumber,
  parseSubnetRange,
  rangesOverlap,
  subnet,
  subnetCount,
  type SubnetRange,
} from "./subnets.js";

const range = (raw: string): SubnetRange => {
  const r = parseSubnetRange(raw);
  if (typeof r === "string") throw new Error(r);
  return r;
};

describe("subnets", () => {
  it("maps a network number to a /24 with host .10 and container .11", () => {
    const n = (10 << 16) | (20 << 8) | 30;
    expect(subnet(n)).toEqual({
      index: n,
      cidr: "10.20.30.0/24",
      hostAddress: "10.20.30.10",
      localAddress: "10.20.30.11",
    });
    expect(subnet(DEFAULT_SUBNET_RANGE.last).cidr).toBe("192.168.199.0/24");
  });

  it("reads a legacy stored value (below 256) as 192.168.N.0/24", () => {
    expect(subnet(100)).toEqual(subnet(DEFAULT_SUBNET_RANGE.first));
    expect(subnet(142).hostAddress).toBe("192.168.142.10");
    expect(networkNumber(199)).toBe(DEFAULT_SUBNET_RANGE.last);
    expect(() => subnet(-1)).toThrow(RangeError);
    expect(() => subnet(1.5)).toThrow(RangeError);
    expect(() => subnet(0x1000000)).toThrow(RangeError);
  });

  it("parses CONTAINER_SUBNETS ranges, first to last inclusive", () => {
    expect(range("192.168.100.0/24-192.168.199.0/24")).toEqual(DEFAULT_SUBNET_RANGE);
    expect(subnetCount(DEFAULT_SUBNET_RANGE)).toBe(100);
    const across = range(" 10.0.254.0/24 - 10.1.1.0/24 ");
    expect(subnetCount(across)).toBe(4);
    expect(formatSubnetRange(across)).toBe("10.0.254.0/24-10.1.1.0/24");
    expect(subnetCount(range("172.16.5.0/24-172.16.5.0/24"))).toBe(1);
  });

  it("refuses what is not a range of /24s, saying why", () => {
    expect(parseSubnetRange("192.168.100.0/24")).toMatch(/FIRST-LAST/);
    expect(parseSubnetRange("192.168.100.0/16-192.168.199.0/24")).toMatch(/is a \/16, not a \/24/);
    expect(parseSubnetRange("192.168.100.1/24-192.168.199.0/24")).toMatch(/last octet must be 0/);
    expect(parseSubnetRange("192.168.300.0/24-192.168.199.0/24")).toMatch(/above 255/);
    expect(parseSubnetRange("192.168.199.0/24-192.168.100.0/24")).toMatch(/starts after it ends/);
    expect(parseSubnetRange("127.0.0.0/24-127.0.1.0/24")).toMatch(/reserved/);
    expect(parseSubnetRange("fd00::/24-fd00:1::/24")).toMatch(/not an IPv4 network/);
  });

  it("tells overlapping ranges from disjoint ones", () => {
    const a = range("10.0.0.0/24-10.0.9.0/24");
    expect(rangesOverlap(a, range("10.0.9.0/24-10.0.20.0/24"))).toBe(true);
    expect(rangesOverlap(a, range("10.0.3.0/24-10.0.4.0/24"))).toBe(true);
    expect(rangesOverlap(a, range("10.0.10.0/24-10.0.20.0/24"))).toBe(false);
    expect(rangesOverlap(range("10.0.10.0/24-10.0.20.0/24"), a)).toBe(false);
  });

  it("allocates the lowest free subnet of the range and runs out at its end", () => {
    expect(allocateSubnet([])).toBe(DEFAULT_SUBNET_RANGE.first);
    const r = range("10.9.0.0/24-10.9.2.0/24");
    const used: number[] = [];
    for (let i = 0; i < 3; i++) {
      const s = allocateSubnet(used, r);
      expect(s).toBe(r.first + i);
      used.push(s!);
    }
    expect(allocateSubnet(used, r)).toBeNull();
    expect(used.map((n) => subnet(n).cidr)).toEqual(["10.9.0.0/24", "10.9.1.0/24", "10.9.2.0/24"]);
  });

  it("counts legacy stored values as the networks they mean", () => {
    // A record from an old state file holds 100: 192.168.100.0/24 is taken.
    expect(allocateSubnet([100, 101, 103])).toBe(DEFAULT_SUBNET_RANGE.first + 2);
    expect(allocateSubnet([DEFAULT_SUBNET_RANGE.first, 101])).toBe(DEFAULT_SUBNET_RANGE.first + 2);
    // A damaged value takes nothing and does not stop the allocation.
    expect(allocateSubnet([-1, 1.5, 2 ** 30, 100])).toBe(DEFAULT_SUBNET_RANGE.first + 1);
  });
});
