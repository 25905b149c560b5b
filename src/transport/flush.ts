
/**
 * Flushes everything written on the filesystem that holds `dir` (syncfs(2) through coreutils' `sync -f`).
 * One call per folder replaces an fsync per message: the durability the issue asks for without its per-message cost.
 * Node has no syncfs binding, so we run the tool; an argv array, never a shell.
 */
export async function flushFilesystem(dir: string): Promise<void> {
  // Loaded on first use: execa costs start-up time that commands which never flush should not pay.
  const { execa } = await import('execa');
  await execa('sync', ['-f', '--', dir], { stdio: 'ignore' });
}
