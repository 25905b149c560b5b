// Preloaded into a measured Node process (NODE_OPTIONS=--import=THIS), it writes the process's own resource usage
// when it exits: CPU time of its threads (not of the rsync and find it spawns, which GNU time counts with it) and its
// own peak RSS. The campaign benchmark compares the campaign's process with the direct copies' on these, because
// the difference of two process trees' CPU times is far steadier on a shared machine than the difference of two
// wall times. Writes JSON to $MAILSHIFT_BENCH_USAGE_FILE; does nothing without it.
import { writeFileSync } from 'node:fs';

const file = process.env.MAILSHIFT_BENCH_USAGE_FILE;
if (file) {
  process.on('exit', () => {
    const usage = process.resourceUsage();
    writeFileSync(file, JSON.stringify({ pid: process.pid, userSeconds: usage.userCPUTime / 1e6, systemSeconds: usage.systemCPUTime / 1e6, maxRssBytes: usage.maxRSS * 1024 }));
  });
}
