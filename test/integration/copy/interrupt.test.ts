import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, utimes } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, runCli } from '../../e2e/cli.js';
import { descendantPids, signalPid, sleep, waitFor } from '../../support/process.js';
import { startSshd, type Sshd } from '../../support/sshd.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { messageBaseNames, sshOptionsFor, writeSourceMaildir } from './helpers.js';

/**
 * A copy stopped from outside: Ctrl-C (SIGINT to the whole process group, as a terminal sends it) and kill -9 of the
 * whole group, rsync included. Large messages and --bwlimit keep rsync inside a file when the signal lands.
 */
let temp: TempDir;
let sshd: Sshd;
const messages = 12;
const messageBytes = 3 * 1024 * 1024;

beforeAll(async () => {
  temp = await makeTempDir('copy-interrupt', { mode: 0o755 });
  await writeSourceMaildir(path.join(temp.path, 'src'), messages, (i) => `Subject: big ${i}\n\n${'y'.repeat(messageBytes)}\n`);
  sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.stop();
  await temp?.cleanup();
});

/** Starts the CLI in its own process group (so the whole group can be signalled, as a terminal does). */
function startDetached(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, exited, stderr: () => stderr };
}

/** rsync's temporary names (".NAME.XXXXXX") in the cur/ and new/ directories of a maildir tree. */
async function rsyncTempFilesInMail(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (/\/(cur|new)$/.test(d) && /^\..+\.[A-Za-z0-9]{6}$/.test(entry.name)) out.push(path.relative(dir, p));
    }
  };
  await walk(dir);
  return out;
}

/** Starts a copy (paced by --bwlimit in `args`), and once rsync is writing into `dst` kills its whole group with -9. */
async function killWhileTransferring(args: string[], dst: string): Promise<void> {
  const run = startDetached(args, {});
  await waitForTransferInProgress(dst);
  await sleep(200);
  process.kill(-run.child.pid!, 'SIGKILL');
  await run.exited;
}

/** Waits until rsync is writing a message into the target (a temporary file exists somewhere under it). */
async function waitForTransferInProgress(dst: string): Promise<void> {
  const hasTempFile = async (d: string): Promise<boolean> => {
    for (const entry of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (entry.isDirectory() && (await hasTempFile(path.join(d, entry.name)))) return true;
      // ".NAME.XXXXXX" next to the final name.
      if (entry.isFile() && /^\..+\.[A-Za-z0-9]{6}$/.test(entry.name)) return true;
    }
    return false;
  };
  await waitFor(async () => ((await hasTempFile(dst)) ? true : undefined), 20_000, () => `no rsync temporary file appeared under ${dst}`);
}

describe('a copy interrupted from outside', () => {
  it('a second Ctrl-C (stop at once) exits 130 and leaves no mailshift-copy-* directory in the temp folder', async () => {
    const tmpdir = path.join(temp.path, 'tmp-ctrl-c');
    await mkdir(tmpdir);
    const dst = path.join(temp.path, 'dst-ctrl-c');
    const run = startDetached(['copy', '--bwlimit', '3000', path.join(temp.path, 'src'), dst], { TMPDIR: tmpdir });
    await waitForTransferInProgress(dst);
    // rsync is held still, so the first Ctrl-C is certainly still "finishing the current step" when the second one,
    // which stops at once, arrives.
    const rsyncs = descendantPids(run.child.pid!);
    for (const pid of rsyncs) signalPid(pid, 'SIGSTOP');
    try {
      process.kill(run.child.pid!, 'SIGINT');
      await sleep(300);
      process.kill(run.child.pid!, 'SIGINT');
      const { code } = await run.exited;
      expect(code, run.stderr()).toBe(130);
      expect(await readdir(tmpdir)).toEqual([]);
    } finally {
      for (const pid of rsyncs) signalPid(pid, 'SIGKILL');
    }
  });

  it('after kill -9 of the whole process group, the re-run leaves no rsync temporary file in cur/ or new/ and every message exactly once', async () => {
    const src = path.join(temp.path, 'src');
    const dst = path.join(temp.path, 'dst-kill');
    await killWhileTransferring(['copy', '--bwlimit', '3000', src, dst], dst);
    expect((await messageBaseNames(dst)).length).toBeLessThan(messages);
    // The killed job's marker records that rsync was writing there (the re-run's clean-up keys on it).
    expect(existsSync(path.join(dst, 'mailshift-copy-in-progress')), 'the killed job left its marker').toBe(true);
    // Killed between rsync's setting the source's mtime on a temporary file and its rename, the file looks old by its
    // mtime: make every one left look so, since the clean-up must go by the change time.
    for (const name of await rsyncTempFilesInMail(dst)) await utimes(path.join(dst, name), 1000000000, 1000000000);

    const rerun = await runCli(['--json', 'copy', src, dst]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(await rsyncTempFilesInMail(dst)).toEqual([]);
    expect(existsSync(path.join(dst, 'mailshift-tmp')), 'no temp dir (an older build used one)').toBe(false);
    expect(existsSync(path.join(dst, 'mailshift-copy-in-progress')), 'the marker goes when the job ends').toBe(false);
    const copied = await messageBaseNames(dst);
    expect(copied).toEqual(await messageBaseNames(src));
    expect(new Set(copied).size).toBe(messages);
  });

  it('the same into a target over ssh: kill -9 here (the far rsync loses its connection), then a re-run', async () => {
    const src = path.join(temp.path, 'src');
    const dst = path.join(temp.path, 'dst-kill-ssh');
    const remoteDst = `ssh://root@127.0.0.1:${sshd.port}${dst}`;
    await killWhileTransferring(['copy', '--bwlimit', '3000', ...sshOptionsFor(sshd), src, remoteDst], dst);
    expect((await messageBaseNames(dst)).length).toBeLessThan(messages);
    expect(existsSync(path.join(dst, 'mailshift-copy-in-progress')), 'the killed job left its marker').toBe(true);
    // The far rsync, its connection gone, removes its own temporary file as it ends (it did in every run here); a far
    // rsync killed outright would not, and the re-run's clean-up over ssh (leftovers.test.ts) covers that. The marker
    // is left either way.
    await sleep(500);

    const rerun = await runCli(['--json', 'copy', ...sshOptionsFor(sshd), src, remoteDst]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(await rsyncTempFilesInMail(dst)).toEqual([]);
    expect(existsSync(path.join(dst, 'mailshift-copy-in-progress')), 'the marker goes when the job ends').toBe(false);
    const copied = await messageBaseNames(dst);
    expect(copied).toEqual(await messageBaseNames(src));
    expect(new Set(copied).size).toBe(messages);
  });
});
