import { defineConfig } from 'vitest/config';

// Three projects, all run by `npm test`:
// - `unit`: pure and fast (codecs, planners, mocks allowed), no servers;
// - `e2e`: the built CLI (dist/) on materialised trees, asserting on exit codes, --json and files on disk;
// - `integration`: the engine and the CLI against real rsync, sshd and Dovecot on 127.0.0.1.
const serverTimeouts = { testTimeout: 120_000, hookTimeout: 120_000 };

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/integration/**', 'test/e2e/**'],
          // One module registry per worker instead of one per file: the unit files are pure, and isolation cost more
          // than the tests (60 s against 23 s on the 2-core machine). A file that mocks a module resets the registry
          // around its import (test/transport/flush.test.ts).
          isolate: false,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          ...serverTimeouts,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          ...serverTimeouts,
        },
      },
    ],
  },
});
