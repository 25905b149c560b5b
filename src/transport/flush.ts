import { execa } from 'execa';

/**
 * Flushes everything written on the filesystem that holds `dir` (syncfs(2) through coreutils' `sync -f`).
 * One call per folder replaces an fsync per message: the durability the issue asks for without its per-message cost.
 * Node has no syncfs binding, so we run the tool; an argv array, never a shell.
 */
export async function flushFilesystem(dir: string): Promise<void> {
  await execa('sync', ['-f', '--', dir], { stdio: 'ignore' });
}
