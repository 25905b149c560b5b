// Safety net for test servers and temp dirs: started (detached) by test/support/process.ts, it reads lines
//   pid N | unpid N | dir PATH | undir PATH
// on stdin. When stdin closes — the test process exited, normally or killed by a timeout or a signal that left
// no chance for its own cleanup — it SIGKILLs each registered pid with all its descendants and removes each
// registered dir. Plain JavaScript so that it runs with bare `node`, without the test's TypeScript loader.
import { readdirSync, readFileSync, rmSync, chmodSync, lstatSync } from 'node:fs';
import { join } from 'node:path';

/** pid -> its start time (field 22 of /proc/PID/stat), so a pid reused by another process is never killed. */
const pids = new Map();
const dirs = new Set();
let pending = '';

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  pending += chunk;
  const lines = pending.split('\n');
  pending = lines.pop() ?? '';
  for (const line of lines) {
    const space = line.indexOf(' ');
    const verb = line.slice(0, space);
    const arg = line.slice(space + 1);
    if (verb === 'pid') pids.set(Number(arg), startTime(Number(arg)));
    else if (verb === 'unpid') pids.delete(Number(arg));
    else if (verb === 'dir') dirs.add(arg);
    else if (verb === 'undir') dirs.delete(arg);
  }
});
process.stdin.on('end', reap);
process.stdin.on('error', reap);
// The parent's process group may be signalled as a whole; the reaper must outlive it to do its job.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => {});

function startTime(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function parentPids() {
  const parents = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(name), Number(rest[1]));
    } catch {
      // exited meanwhile
    }
  }
  return parents;
}

function makeWritable(path) {
  try {
    if (!lstatSync(path).isDirectory()) return;
    chmodSync(path, 0o700);
    for (const name of readdirSync(path)) makeWritable(join(path, name));
  } catch {
    // best effort
  }
}

function reap() {
  const parents = parentPids();
  const victims = [];
  const queue = [...pids].filter(([pid, started]) => started !== undefined && startTime(pid) === started).map(([pid]) => pid);
  while (queue.length > 0) {
    const pid = queue.shift();
    victims.push(pid);
    for (const [child, parent] of parents) if (parent === pid) queue.push(child);
  }
  for (const pid of victims) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (process.env.MAILSHIFT_KEEP_TMP !== '1') {
    for (const dir of dirs) {
      makeWritable(dir);
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
  }
  process.exit(0);
}
