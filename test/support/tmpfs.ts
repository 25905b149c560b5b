import { mkdir } from 'node:fs/promises';
import { runCommand } from './process.js';

/**
 * A small tmpfs (a full disk in 2 MB, or a read-only filesystem) mounted at `dir`. Tests run as root; where mount is
 * not permitted (an unprivileged container) the result says why, and the test skips with that reason.
 */
export async function mountTmpfs(dir: string, options: { sizeBytes?: number; isReadOnly?: boolean } = {}): Promise<{ ok: true; unmount: () => Promise<void> } | { ok: false; reason: string }> {
  await mkdir(dir, { recursive: true });
  const opts = [`size=${options.sizeBytes ?? 2 * 1024 * 1024}`, 'mode=0755', ...(options.isReadOnly ? ['ro'] : [])].join(',');
  const mounted = await runCommand('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', dir], { allowFailure: true });
  if (mounted.code !== 0) return { ok: false, reason: `cannot mount a tmpfs here (${mounted.stderr.trim() || `exit ${mounted.code}`})` };
  return {
    ok: true,
    unmount: async () => {
      await runCommand('umount', ['-l', dir], { allowFailure: true });
    },
  };
}
