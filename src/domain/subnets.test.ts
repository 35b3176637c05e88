import { describe, expect, it } from "vitest";
import { allocateSubnet, subnet, SUBNET_COUNT } from "./subnets.js";

describe("subnets", () => {
  it("maps an index to a /24 with host .10 and container .11", () => {
    expect(subnet(100)).toEqual({
      index: 100,
      cidr: "192.168.100.0/24",
      hostAddress: "192.168.100.10",
      localAddress: "192.168.100.11",
    });
    expect(subnet(199).cidr).toBe("192.168.199.0/24");
    expect(() => subnet(99)).toThrow(RangeError);
    expect(() => subnet(200)).toThrow(RangeError);
  });

  it("allocates the lowest free index and runs out after 100", () => {
    expect(allocateSubnet([])).toBe(100);
    expect(allocateSubnet([100, 101, 103])).toBe(102);
    const used: number[] = [];
    for (let i = 0; i < SUBNET_COUNT; i++) {
      const s = allocateSubnet(used);
      expect(s).not.toBeNull();
      expect(used).not.toContain(s);
      used.push(s!);
    }
    expect(allocateSubnet(used)).toBeNull();
  });
});
