/** CONTAINER_SUBNETS: the range of /24 networks the containers get, checked against MAX_CONCURRENT. */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config.js";
import { DEFAULT_SUBNET_RANGE, formatSubnetRange, subnetCount } from "../domain/subnets.js";
import type { Env } from "./types.js";
import { configRefusal } from "../../test/helpers/config-refusal.js";

const base: Env = { GITHUB_REPO: "o/r", GITHUB_TOKEN_FILE: "/t" };

describe("CONTAINER_SUBNETS", () => {
  it("defaults to the 100 networks 192.168.100.0/24-192.168.199.0/24", () => {
    const c = loadConfig(base);
    expect(c.containerSubnets).toEqual(DEFAULT_SUBNET_RANGE);
    expect(formatSubnetRange(c.containerSubnets)).toBe("192.168.100.0/24-192.168.199.0/24");
  });

  it("takes a range of its own", () => {
    const c = loadConfig({ ...base, CONTAINER_SUBNETS: "10.44.0.0/24-10.44.15.0/24", MAX_CONCURRENT: "16" });
    expect(subnetCount(c.containerSubnets)).toBe(16);
    expect(formatSubnetRange(c.containerSubnets)).toBe("10.44.0.0/24-10.44.15.0/24");
  });

  it("refuses a bad range, naming the variable (a configuration error: exit 2)", () => {
    for (const bad of [
      "192.168.100.0/24",
      "192.168.100.0/23-192.168.199.0/24",
      "192.168.199.0/24-192.168.100.0/24",
      "192.168.100.5/24-192.168.199.0/24",
    ]) {
      const e = configRefusal({ ...base, CONTAINER_SUBNETS: bad });
      expect(e.code).toBe("RC_CONFIG_INVALID");
      expect(e.describe(), bad).toMatch(/^CONTAINER_SUBNETS=/);
    }
  });

  it("refuses MAX_CONCURRENT above the number of networks in the range, naming both", () => {
    const e = configRefusal({ ...base, CONTAINER_SUBNETS: "10.44.0.0/24-10.44.3.0/24", MAX_CONCURRENT: "5" });
    expect(e.code).toBe("RC_CONFIG_INVALID");
    expect(e.describe()).toMatch(
      /MAX_CONCURRENT=5 .*4 \/24 networks of CONTAINER_SUBNETS=10\.44\.0\.0\/24-10\.44\.3\.0\/24/,
    );
    expect(
      loadConfig({ ...base, CONTAINER_SUBNETS: "10.44.0.0/24-10.44.3.0/24", MAX_CONCURRENT: "4" })
        .maxConcurrent,
    ).toBe(4);
  });
});
