import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { systemErrorCode } from '../../../core/errors.js';
import { checkMessageAllocation } from '../../../cpanel/unsafe.js';
import { sshFailure } from '../../../hosts/find.js';
import type { FileSide } from '../../../hosts/side.js';
import type { ResyncPlan } from './plan.js';

/**
 * resync lists messages by name only; before copying, the messages it is about to copy are stat'ed (locally lstat,
 * over ssh one `xargs stat`) and the ones discover reports as unsafe — sparse files, a huge ",S=" the length does
 * not have (cpanel/unsafe.ts) — are taken out of the plan and listed with the skipped folders (exit 3).
 */
export async function refuseUnsafeAllocations(side: FileSide, root: string, plan: ResyncPlan, signal?: AbortSignal): Promise<ResyncPlan> {
  const candidates = plan.folders.flatMap((folder) => folder.copies.map((copy) => ({ dir: folder.dir, sub: copy.sub, name: copy.name, abs: path.posix.join(root, folder.dir, copy.sub, copy.name) })));
  if (candidates.length === 0) return plan;
  const sizes = side.ssh ? await statRemote(side, candidates.map((c) => c.abs), signal) : await statLocal(candidates.map((c) => c.abs));
  const refused = new Map<string, string>();
  for (const c of candidates) {
    const s = sizes.get(c.abs);
    if (!s) continue;
    const problem = checkMessageAllocation(c.name, s.sizeBytes, s.allocatedBytes);
    if (problem) refused.set(c.abs, `message ${JSON.stringify(`${c.sub}/${c.name}`)}: ${problem.detail}; not copied`);
  }
  if (refused.size === 0) return plan;
  const skipped = candidates.filter((c) => refused.has(c.abs)).map((c) => ({ dir: c.dir, reason: refused.get(c.abs)! }));
  return {
    folders: plan.folders.map((folder) => ({ ...folder, copies: folder.copies.filter((copy) => !refused.has(path.posix.join(root, folder.dir, copy.sub, copy.name))) })),
    skippedFolders: [...plan.skippedFolders, ...skipped],
  };
}

interface Allocation {
  readonly sizeBytes: number;
  readonly allocatedBytes: number;
}

async function statLocal(paths: readonly string[]): Promise<Map<string, Allocation>> {
  const out = new Map<string, Allocation>();
  for (const p of paths) {
    try {
      const s = await lstat(p);
      if (s.isFile()) out.set(p, { sizeBytes: s.size, allocatedBytes: s.blocks * 512 });
    } catch (err) {
      // Gone since it was listed: rsync reports it as vanished.
      if (systemErrorCode(err) !== 'ENOENT') throw err;
    }
  }
  return out;
}

async function statRemote(side: FileSide, paths: readonly string[], signal?: AbortSignal): Promise<Map<string, Allocation>> {
  // GNU stat: length, blocks and block unit, then the name, each record NUL-terminated (names may hold newlines).
  const result = await side.run(['xargs', '-0', '-r', 'stat', '--printf', '%s %b %B %n\\0', '--'], {
    input: Buffer.from(paths.map((p) => `${p}\u0000`).join(''), 'utf8'),
    ...(signal ? { signal } : {}),
  });
  if (side.ssh && result.exitCode === 255) throw sshFailure(side.ssh.host, result.stderr);
  const out = new Map<string, Allocation>();
  for (const record of result.stdout.toString('utf8').split('\u0000')) {
    const m = /^(\d+) (\d+) (\d+) ([\s\S]*)$/.exec(record);
    if (m) out.set(m[4]!, { sizeBytes: Number(m[1]), allocatedBytes: Number(m[2]) * Number(m[3]) });
  }
  return out;
}
