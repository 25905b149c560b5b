import { chmod, lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { chmodSync, lstatSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerDirForExitCleanup, unregisterDirForExitCleanup } from './process.js';

export interface TempDir {
  /** Absolute path of the new, empty directory. */
  readonly path: string;
  /** Removes the directory and everything below it, even files and directories chmod'ed to 000. Idempotent. */
  cleanup(): Promise<void>;
}

export interface TempDirOptions {
  /**
   * Mode of the directory itself. mkdtemp makes it 0700; servers that drop privileges to `nobody` (Dovecot's
   * mail processes) must be able to traverse it, so they ask for 0755.
   */
  readonly mode?: number;
}

// Directories still alive when the process exits are removed synchronously (tests that crash before afterAll).
const liveDirs = new Set<string>();
let exitHookInstalled = false;

/** Set MAILSHIFT_KEEP_TMP=1 to keep temp dirs for a post-mortem; their paths stay in the test output. */
function keepTemp(): boolean {
  return process.env['MAILSHIFT_KEEP_TMP'] === '1';
}

export async function makeTempDir(prefix: string, options: TempDirOptions = {}): Promise<TempDir> {
  const safePrefix = prefix.replace(/[^A-Za-z0-9_.-]/g, '_');
  const path = await mkdtemp(join(tmpdir(), `mailshift-${safePrefix}-`));
  if (options.mode !== undefined) await chmod(path, options.mode);
  liveDirs.add(path);
  registerDirForExitCleanup(path);
  installExitHook();
  return {
    path,
    async cleanup() {
      liveDirs.delete(path);
      if (keepTemp()) return;
      await removeTree(path);
      unregisterDirForExitCleanup(path);
    },
  };
}

/**
 * rm -rf that survives a tree a test made hostile: directories without r/w/x bits (rm needs to list and unlink
 * in them; root bypasses that, a CI user does not). Symlinks are never followed.
 */
export async function removeTree(path: string): Promise<void> {
  await makeWritable(path);
  await rm(path, { recursive: true, force: true });
}

async function makeWritable(path: string): Promise<void> {
  let stats;
  try {
    stats = await lstat(path);
  } catch {
    return;
  }
  if (!stats.isDirectory()) return;
  try {
    await chmod(path, 0o700);
  } catch {
    // Not ours (a test chowned it away); rm will report what it cannot do.
  }
  let names: string[] = [];
  try {
    names = await readdir(path);
  } catch {
    return;
  }
  for (const name of names) await makeWritable(join(path, name));
}

function makeWritableSync(path: string): void {
  try {
    if (!lstatSync(path).isDirectory()) return;
    chmodSync(path, 0o700);
    for (const name of readdirSync(path)) makeWritableSync(join(path, name));
  } catch {
    // Best effort at exit.
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    if (keepTemp()) return;
    for (const path of liveDirs) {
      makeWritableSync(path);
      try {
        rmSync(path, { recursive: true, force: true });
      } catch {
        // Nothing more to do while exiting.
      }
    }
  });
}
