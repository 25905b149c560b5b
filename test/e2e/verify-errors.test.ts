import { chmod } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, runCli } from './cli.js';
import { runCommand } from '../support/process.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';
import { writeTree, type TreeManifest } from '../support/tree.js';

/**
 * verify on sides it cannot compare: a source folder it may not read (run as nobody: root reads everything), and a
 * mistyped target path. Neither is "a bug in mailshift", neither is "OK", neither is "messages missing" (exit 4).
 */
let temp: TempDir;

const maildir = (messages: number): TreeManifest => {
  const tree: Record<string, TreeManifest[string]> = { 'new': { type: 'dir' }, 'tmp': { type: 'dir' }, '.Sent/new': { type: 'dir' }, '.Sent/tmp': { type: 'dir' } };
  for (let i = 0; i < messages; i++) {
    const body = `Subject: m${i}\n\nbody ${i}\n`;
    tree[`${i % 2 ? '.Sent/' : ''}cur/${1700000000 + i}.M${i}P1.host,S=${body.length}:2,S`] = { content: body, mtime: 1700000000 + i, mode: 0o644 };
  }
  return tree;
};

beforeAll(async () => {
  temp = await makeTempDir('verify-errors', { mode: 0o755 });
  await writeTree(path.join(temp.path, 'src'), maildir(6));
  await writeTree(path.join(temp.path, 'dst'), maildir(6));
  await runCommand('chmod', ['-R', 'a+rX', temp.path]);
});
afterAll(async () => {
  await temp?.cleanup();
});

function runAsNobody(args: string[]) {
  return runCommand('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, cliPath, ...args], { allowFailure: true });
}

describe('verify on sides it cannot compare', () => {
  it('verify with an unreadable source folder names it with a hint instead of crashing', async () => {
    const sentCur = path.join(temp.path, 'src', '.Sent', 'cur');
    await chmod(sentCur, 0o000);
    try {
      const result = await runAsNobody(['verify', path.join(temp.path, 'src'), path.join(temp.path, 'dst')]);
      expect(result.stderr).not.toMatch(/this is a bug in mailshift/);
      expect(result.stderr).toMatch(/cannot read .*\.Sent\/cur: permission denied/);
      expect(result.stderr).toMatch(/hint: run mailshift as root or as the mailbox owner/);
      expect(result.code, result.stderr).toBe(78);
    } finally {
      await chmod(sentCur, 0o755);
    }
  });

  it('verify never says OK when a whole source folder cannot be entered', async () => {
    const sent = path.join(temp.path, 'src', '.Sent');
    await chmod(sent, 0o000);
    try {
      const result = await runAsNobody(['verify', path.join(temp.path, 'src'), path.join(temp.path, 'dst')]);
      expect(result.stdout.toString()).not.toMatch(/^OK/);
      expect(result.stderr).toMatch(/cannot read .*\.Sent: permission denied/);
      expect(result.code, result.stderr).toBe(78);
    } finally {
      await chmod(sent, 0o755);
    }
  });

  it('verify against a mistyped target exits 78, not 4 with every message "missing"', async () => {
    const result = await runCli(['verify', path.join(temp.path, 'src'), path.join(temp.path, 'dts')]);
    expect(result.stderr).toMatch(/target .*dts does not exist/);
    expect(result.stderr).toMatch(/hint: check the target path/);
    expect(result.stdout).not.toMatch(/missing/);
    expect(result.code, result.stderr).toBe(78);
  });
});
