// Scratch space for benchmark data: a tmpfs mounted for the run and unmounted afterwards.
//
// Why tmpfs: the root filesystem of these machines is ext4 without a journal, and for minutes after a mass delete
// every new file costs time in proportion to the files recently deleted. A benchmark that deletes and recreates a
// maildir between runs on it measures the inode allocator, not the tool (see
// /work/shared/reference/test-servers.md, "Benchmarking on these machines"). On a tmpfs there is no such effect.
// A journaled ext4 image on a loop device is the alternative test-servers.md names (`fsType: 'ext4'`): closer to
// a real disk, with the page cache still in front of it. When mounting fails (not root, no CAP_SYS_ADMIN) we fall
// back to a plain temp dir and say loudly that the figures are not comparable.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const live = new Set();
let hooksInstalled = false;

function installExitHooks() {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // Synchronous on purpose: 'exit' handlers cannot await, and a mount left behind would hold gigabytes of RAM.
  process.on('exit', () => {
    for (const scratch of [...live]) scratch.releaseSync();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, cleaning up scratch space\n`);
      process.exit(130);
    });
  }
}

export function warnLoudly(lines) {
  const bar = '!'.repeat(78);
  process.stderr.write(`${bar}\n${lines.map((l) => `!! ${l}`).join('\n')}\n${bar}\n`);
}

function describeFailure(result) {
  return (result.stderr || result.error?.message || `exit ${result.status}`).trim();
}

/** Makes a journaled ext4 image (inode tables initialised now, so no lazy-init thread runs during the timings). */
function mountExt4Image(dir, imagePath, sizeMiB) {
  const steps = [
    ['truncate', ['-s', `${sizeMiB}M`, imagePath]],
    ['mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', imagePath]],
    ['mount', ['-o', 'loop', imagePath, dir]],
  ];
  for (const [command, args] of steps) {
    const result = spawnSync(command, args, { encoding: 'utf8' });
    if (result.status !== 0) return `${command}: ${describeFailure(result)}`;
  }
  chmodSync(dir, 0o755);
  return null;
}

/**
 * Mounts fresh scratch space of `sizeBytes` and returns { dir, kind, isTmpfs, sizeBytes, releaseSync() }.
 * fsType 'tmpfs' (default): a tmpfs, memory used only for what is written. fsType 'ext4': a journaled ext4
 * filesystem in a loop-mounted image next to the mount point (sparse; for figures closer to a real disk, with
 * the page cache still in front of it). `releaseSync` unmounts (lazily if something still holds it) and removes
 * the mount point and image; it runs at process exit too, so Ctrl-C does not leave a mount behind.
 */
export function openScratch({ label, sizeBytes, fsType = 'tmpfs' }) {
  installExitHooks();
  const dir = mkdtempSync(join(tmpdir(), `mailshift-bench-${label}-`));
  const sizeMiB = Math.ceil(sizeBytes / (1024 * 1024));
  const imagePath = fsType === 'ext4' ? `${dir}.img` : null;
  let failure;
  if (fsType === 'ext4') {
    failure = mountExt4Image(dir, imagePath, sizeMiB);
  } else {
    // mode=0755: Dovecot drops to `nobody` and must traverse the mount point to reach its own (chowned) subdirectory.
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0755`, 'tmpfs', dir], {
      encoding: 'utf8',
    });
    failure = mount.status === 0 ? null : `mount: ${describeFailure(mount)}`;
  }
  const isMounted = failure === null;
  if (!isMounted) {
    if (imagePath) rmSync(imagePath, { force: true });
    warnLoudly([
      `could not mount ${fsType} scratch space on ${dir}: ${failure}`,
      'falling back to a plain directory on the root filesystem: file-creation costs after deletes will distort',
      'the figures (ext4 inode allocator). Run as root for comparable numbers.',
    ]);
  }
  const scratch = {
    dir,
    kind: isMounted ? fsType : 'plain directory',
    isTmpfs: isMounted && fsType === 'tmpfs',
    sizeBytes: isMounted ? sizeMiB * 1024 * 1024 : null,
    releaseSync() {
      if (!live.has(scratch)) return;
      live.delete(scratch);
      if (isMounted) {
        let umount = spawnSync('umount', [dir], { encoding: 'utf8' });
        if (umount.status !== 0) umount = spawnSync('umount', ['-l', dir], { encoding: 'utf8' });
        if (umount.status !== 0) {
          warnLoudly([`could not unmount ${dir}: ${describeFailure(umount)}`, `run: umount -l ${dir}`]);
          return;
        }
        rmdirSync(dir);
        if (imagePath) rmSync(imagePath, { force: true });
      } else {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  live.add(scratch);
  return scratch;
}
