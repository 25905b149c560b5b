import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from './cli.js';

const fixtures = path.resolve(import.meta.dirname, '../../fixtures/mbox');
let work: string;
beforeEach(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'mailshift-e2e-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

function storedFiles(root: string): string[] {
  const files: string[] = [];
  for (const dir of [root, ...readdirSync(root).filter((n) => n.startsWith('.')).map((n) => path.join(root, n))]) {
    for (const sub of ['new', 'cur']) if (existsSync(path.join(dir, sub))) for (const name of readdirSync(path.join(dir, sub))) files.push(path.join(dir, sub, name));
  }
  return files;
}

describe('mailshift verify of an mbox source, and copy refusing one (the built CLI)', () => {
  it('verify proves a conversion: every message of the mbox tree is in the maildir, with its flags and UIDs', async () => {
    const source = path.join(fixtures, 'sample-account');
    const maildir = path.join(work, 'Maildir');
    expect((await runCli(['convert', source, maildir])).code).toBe(0);
    const ok = await runCli(['verify', source, maildir]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^OK: 9 of 9 source messages checked on the target; 0 missing, 0 duplicated, 0 with other flags, UIDs kept/);
    // A message lost on the way is found.
    const lost = storedFiles(maildir).find((file) => readFileSync(file, 'latin1').includes('Subject: '))!;
    await rm(lost);
    const missing = await runCli(['verify', source, maildir]);
    expect(missing.code).toBe(4);
    expect(missing.stdout).toMatch(/^DIFFERENCES: 8 of 9 .* 1 missing/);
  });

  it('copy, resync and watch refuse an mbox source and point to convert (they move maildir files)', async () => {
    for (const command of ['copy', 'resync', 'watch']) {
      const result = await runCli([command, path.join(fixtures, 'sample-account'), path.join(work, 'never')]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(new RegExp(`is mbox: ${command} moves maildir files`));
      expect(result.stderr).toMatch(/mailshift convert SOURCE MAILDIR/);
    }
    expect(existsSync(path.join(work, 'never'))).toBe(false);
  });
});

describe('mailshift convert (the built CLI)', () => {
  it('prints a readable summary and exits 0', async () => {
    const result = await runCli(['convert', path.join(fixtures, 'sample-account'), path.join(work, 'Maildir')]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Converted 9 messages \(.+\) in 5 folders from .+sample-account into .+Maildir in /);
    expect(result.stdout).toMatch(/INBOX\s+4\s+.*\s+0\s+kept\s+1590998400\n/);
    expect(result.stdout).toContain('1 "FOLDER INTERNAL DATA" pseudo-message');
  });

  it('prints one JSON document with --json, logs only on stderr', async () => {
    const result = await runCli(['--json', 'convert', path.join(fixtures, 'thunderbird'), path.join(work, 'Maildir')]);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { ok: boolean; totals: { messages: number }; folders: { mailbox: string }[] };
    expect(report.ok).toBe(true);
    expect(report.totals.messages).toBe(6);
    expect(report.folders.map((f) => f.mailbox)).toEqual(['INBOX', 'Work', 'Work/Projects']);
  });

  it('exits 3 and lists file, offset and reason when a message cannot be converted', async () => {
    const result = await runCli(['--json', 'convert', path.join(fixtures, 'bad/truncated.mbox'), path.join(work, 'Maildir')]);
    expect(result.code).toBe(3);
    const report = JSON.parse(result.stdout) as { ok: boolean; skipped: { file: string; offset: number; reason: string }[]; stopped: { reason: string } };
    expect(report.ok).toBe(false);
    const offset = readFileSync(path.join(fixtures, 'bad/truncated.mbox'), 'latin1').indexOf('From bob');
    expect(report.skipped).toEqual([{ file: 'truncated.mbox', offset, reason: expect.stringContaining('truncated') }]);
    expect(result.stderr).toContain('stopped:');
  });

  it('exits 1 with a hint for a file that is not an mbox, 2 for a usage error', async () => {
    const notMbox = await runCli(['convert', path.join(fixtures, 'bad/not-an-mbox.txt'), path.join(work, 'Maildir')]);
    expect(notMbox.code).toBe(1);
    expect(notMbox.stderr).toMatch(/is not an mbox.*\n  hint: /);
    expect((await runCli(['convert', 'only-one-argument'])).code).toBe(2);
    expect((await runCli(['convert', 'a', 'b', '--max-bad', 'many'])).code).toBe(2);
  });

  it('writes nothing with --dry-run', async () => {
    const result = await runCli(['convert', '--dry-run', path.join(fixtures, 'sample-account'), path.join(work, 'Maildir')]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Would convert 9 messages/);
    expect(existsSync(path.join(work, 'Maildir'))).toBe(false);
  });

  it('exits 130, not 1 ("cannot read: interrupted"), after one Ctrl-C, and a re-run is exact', async () => {
    const source = path.join(work, 'big.mbox');
    const count = 4000;
    const out = createWriteStream(source);
    const filler = 'lorem ipsum dolor sit amet '.repeat(150);
    for (let i = 0; i < count; i++) out.write(`From sender${i}@example.com Mon Feb  3 10:00:00 2020\nMessage-ID: <int-${i}@example.com>\nSubject: message ${i}\n\n${filler}\n${i}\n\n`);
    out.end();
    await once(out, 'finish');
    const target = path.join(work, 'Maildir');
    const child = spawnCli(['convert', source, target]);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = once(child, 'close');
    for (let tries = 0; tries < 400; tries++) {
      await new Promise((r) => setTimeout(r, 10));
      if (existsSync(target) && storedFiles(target).length > 50) break;
    }
    child.kill('SIGINT');
    const [code] = (await closed) as [number | null];
    expect(storedFiles(target).length).toBeLessThan(count);
    expect(code, stderr).toBe(130);
    expect(stderr).not.toMatch(/cannot read/);
    const rerun = await runCli(['convert', source, target]);
    expect(rerun.code, rerun.stderr).toBe(0);
    const files = storedFiles(target);
    expect(files).toHaveLength(count);
    expect(new Set(files.map((file) => /Message-ID: <(int-\d+)@/.exec(readFileSync(file, 'utf8'))![1])).size).toBe(count);
    expect(readdirSync(path.join(target, 'tmp'))).toEqual([]);
  });

  it('after kill -9 in the middle of a run, a re-run ends with every message exactly once, flags and keywords intact', async () => {
    const source = path.join(work, 'big.mbox');
    const count = 4000;
    const out = createWriteStream(source);
    const filler = 'lorem ipsum dolor sit amet '.repeat(150);
    for (let i = 0; i < count; i++) {
      const day = String((i % 28) + 1).padStart(2, ' ');
      // Keywords rotate, so the resumed run meets them in another order than the killed one: their letters must
      // come from the dovecot-keywords the killed run left, not be handed out again.
      out.write(`From sender${i}@example.com Mon Feb ${day} 10:00:00 2020\nStatus: ${i % 2 ? 'RO' : 'O'}\nX-Keywords: $Label${i % 5}\nMessage-ID: <big-${i}@example.com>\nSubject: message ${i}\n\n${filler}\n${i}\n\n`);
    }
    out.end();
    await once(out, 'finish');
    const target = path.join(work, 'Maildir');
    const child = spawnCli(['convert', source, target]);
    // Kill it once some, but not all, messages are in place.
    for (let tries = 0; tries < 400; tries++) {
      await new Promise((r) => setTimeout(r, 10));
      if (existsSync(target) && storedFiles(target).length > 50) break;
    }
    child.kill('SIGKILL');
    await once(child, 'close');
    const partial = storedFiles(target).length;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(count);
    const rerun = await runCli(['--json', 'convert', source, target]);
    expect(rerun.code).toBe(0);
    const files = storedFiles(target);
    expect(files).toHaveLength(count);
    const ids = new Set(files.map((file) => /Message-ID: <(big-\d+)@/.exec(readFileSync(file, 'utf8'))![1]));
    expect(ids.size).toBe(count);
    expect(readdirSync(path.join(target, 'tmp'))).toEqual([]);
    const uidlist = readFileSync(path.join(target, 'dovecot-uidlist'), 'utf8').trim().split('\n');
    expect(uidlist).toHaveLength(count + 1);
    const verified = await runCli(['verify', source, target]);
    expect(verified.code, verified.stdout).toBe(0);
    expect(verified.stdout).toMatch(new RegExp(`^OK: ${count} of ${count} source messages checked on the target; 0 missing, 0 duplicated, 0 with other flags`));
  });
});

/** A read-only filesystem to aim at, where this machine lets us mount one (root in a container usually may). */
function mountReadOnly(dir: string): boolean {
  mkdirSync(dir, { recursive: true });
  return spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', dir]).status === 0;
}

describe('mailshift convert: targets and files it cannot use (the built CLI)', () => {
  const mbox = 'From a@example.org Mon Jan  6 09:15:00 2020\nSubject: one\n\nbody\n';

  it('exits 78 saying the target is on a read-only filesystem, not "this is a bug in mailshift"', async (context) => {
    const readOnly = path.join(work, 'ro');
    if (!mountReadOnly(readOnly)) context.skip();
    try {
      writeFileSync(path.join(work, 'in.mbox'), mbox);
      for (const target of [readOnly, path.join(readOnly, 'Maildir')]) {
        const result = await runCli(['convert', path.join(work, 'in.mbox'), target]);
        expect(result.code).toBe(78);
        expect(result.stderr).toMatch(/target .* is on a read-only filesystem/);
        expect(result.stderr).not.toMatch(/bug in mailshift/);
      }
    } finally {
      spawnSync('umount', [readOnly]);
    }
  });

  it('exits 78 saying a part of the target path is not a directory when the target lies under a file', async () => {
    writeFileSync(path.join(work, 'in.mbox'), mbox);
    writeFileSync(path.join(work, 'plain-file'), 'x\n');
    const result = await runCli(['convert', path.join(work, 'in.mbox'), path.join(work, 'plain-file', 'Maildir')]);
    expect(result.code).toBe(78);
    expect(result.stderr).toMatch(/target .*plain-file.*: a part of the path is not a directory/);
    expect(result.stderr).not.toMatch(/bug in mailshift/);
  });

  it('skips a file whose name is not valid UTF-8 within --max-bad (exit 3, listed), instead of aborting with exit 1', async () => {
    const source = path.join(work, 'src');
    mkdirSync(source);
    writeFileSync(path.join(source, 'inbox'), mbox);
    writeFileSync(Buffer.concat([Buffer.from(`${source}/caf`), Buffer.from([0xe9])]), mbox);
    const result = await runCli(['--json', 'convert', '--max-bad', '1', source, path.join(work, 'Maildir')]);
    expect(result.code, result.stderr).toBe(3);
    const report = JSON.parse(result.stdout) as { totals: { messages: number }; skipped: { file: string; reason: string }[] };
    expect(report.totals.messages).toBe(1);
    expect(report.skipped).toEqual([{ file: 'caf\\xe9', offset: 0, reason: expect.stringMatching(/not valid UTF-8/) }]);
  });
});
