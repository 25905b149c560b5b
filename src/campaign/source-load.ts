import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { openFileSide } from '../hosts/open.js';
import { parseStoreSpec } from '../stores/spec.js';
import type { SshOptions } from '../transport/ssh.js';
import type { PlanRow } from './plan-file.js';

/**
 * How busy the machine serving a group's sources is: its 1-minute load average per CPU, read from /proc/loadavg here
 * or over ssh (where the group's sources are read over ssh). An IMAP source's server load cannot be read: undefined,
 * and nothing waits for it (the IMAP store's own back-off answers a throttling server).
 */
export async function readSourceLoad(group: string, rows: readonly PlanRow[], ssh: SshOptions): Promise<number | undefined> {
  const row = rows.find((each) => each.group === group);
  if (!row) return undefined;
  const spec = parseStoreSpec(row.source);
  if (spec.kind === 'imap') return undefined;
  if (spec.location.type === 'local') return parseLoadPerCpu(await readFile('/proc/loadavg', 'utf8'), availableParallelism());
  const side = openFileSide(spec.location, ssh);
  const result = await side.run(['sh', '-c', 'cat /proc/loadavg; nproc']);
  const [loadavg, cpus] = result.stdout.toString('utf8').split('\n');
  return parseLoadPerCpu(loadavg ?? '', Number(cpus));
}

/** "0.52 0.58 0.59 1/467 12345" and 2 CPUs -> 0.26; undefined when the text is not a load average. */
export function parseLoadPerCpu(loadavg: string, cpus: number): number | undefined {
  const first = /^(\d+(?:\.\d+)?)\s/.exec(`${loadavg.trim()} `);
  if (!first || !Number.isFinite(cpus) || cpus < 1) return undefined;
  return Number(first[1]) / cpus;
}
