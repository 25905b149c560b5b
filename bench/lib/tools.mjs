// Finding the tools a benchmark compares, and saying why one cannot run.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export const INSTALL_HINT = 'install the benchmark peers: MAILSHIFT_BENCH_DEPS=1 bash scripts/install-test-deps.sh';

/** Absolute path of an executable on PATH, or null. */
export function findExecutable(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export function available(version, extra = {}) {
  return { ok: true, version, ...extra };
}

export function unavailable(reason) {
  return { ok: false, reason };
}
