import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start servers and processes; keep the machine's 2 cores usable.
    maxWorkers: 2,
    pool: "forks",
  },
});
