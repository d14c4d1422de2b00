import { defineConfig } from "vitest/config";

/**
 * Two projects: the unit and tool tests in parallel, then the network lab, one
 * file at a time and alone, so the failover figures it prints are not skewed by
 * the rest of the suite competing for the CPU.
 */
export default defineConfig({
  test: {
    globalSetup: ["test/support/build.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["test/**/*.test.ts"], exclude: ["test/lab/**"] },
      },
      {
        extends: true,
        test: { name: "lab", include: ["test/lab/**/*.test.ts"], fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
