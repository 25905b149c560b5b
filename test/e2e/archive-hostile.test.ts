import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeHostileArchive, writeSparseFile } from '../support/cpmove.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';
import { runCli } from './cli.js';

const run = promisify(execFile);

let tmp: TempDir;
let outside: string;

beforeAll(async () => {
  tmp = await makeTempDir('archive-hostile');
  outside = path.join(tmp.path, 'outside');
  await mkdir(outside);
});

afterAll(async () => {
  await tmp?.cleanup();
});

const writeHostile = (file: string) => writeHostileArchive(file, outside);

interface RestoreJson {
  skipped: { item: string; reason: string }[];
  report: { totals: { written: number } };
}

describe('a hostile backup', () => {
  it('restores the honest message and lists every hostile entry with its reason, writing nothing outside the target', async () => {
    const archive = path.join(tmp.path, 'hostile.tar');
    await writeHostile(archive);
    const target = path.join(tmp.path, 'target');
    const result = await runCli(['copy', `cpmove:${archive}#alice@example.com`, target, '--json']);
    expect(result.code, result.stderr).toBe(3);
    const doc = JSON.parse(result.stdout) as RestoreJson;
    const reasons = doc.skipped.map((s) => s.reason.split(':')[0]);
    expect(reasons).toEqual(
      expect.arrayContaining(['parent-segment', 'parent-segment', 'absolute-path', 'nul-byte', 'symlink to ' + outside, 'tar-unsupported-entry', 'tar-unsupported-entry', 'hardlink-target-missing']),
    );
    expect(doc.skipped).toHaveLength(8);
    expect(doc.report.totals.written).toBe(2);
    expect(await readdir(outside)).toEqual([]);
    expect(await readdir(tmp.path)).toEqual(expect.arrayContaining(['hostile.tar', 'outside', 'target']));
    expect((await readdir(tmp.path)).filter((n) => n.includes('climb'))).toEqual([]);
    // The file under the symlink's name went into a real directory inside the target, never through a link.
    expect(await readFile(path.join(target, '.Evil/cur/through-the-link:2,S'), 'utf8')).toContain('through the link');
    expect(await readdir(path.join(target, 'cur'))).toEqual(['1700000001.M1P1.host,S=80:2,S']);
  });

  it('is discovered with every hostile entry as an unsafe warning (exit 3), nothing followed', async () => {
    const archive = path.join(tmp.path, 'hostile-discover.tar');
    await writeHostile(archive);
    const result = await runCli(['discover', archive, '--json']);
    expect(result.code, result.stderr).toBe(3);
    const doc = JSON.parse(result.stdout) as { warnings: { kind: string; severity: string }[]; totals: { messages: number } };
    const unsafe = doc.warnings.filter((w) => w.severity === 'unsafe').map((w) => w.kind);
    expect(unsafe).toEqual(expect.arrayContaining(['unsafe-name', 'special-file', 'symlink-outside-account']));
    expect(await readdir(outside)).toEqual([]);
  });

  for (const format of ['gnu', 'posix'] as const) {
    it(`refuses a sparse entry (GNU tar --sparse, --format=${format}) instead of writing its map as a message`, async () => {
      const src = path.join(tmp.path, `sparse-${format}`);
      const cur = path.join(src, 'cpmove-bob/homedir/mail/example.com/alice/cur');
      await mkdir(cur, { recursive: true });
      await writeSparseFile(path.join(cur, '1700000001.M1P1.host:2,S'));
      const archive = path.join(tmp.path, `sparse-${format}.tar`);
      await run('tar', ['-cf', archive, `--format=${format}`, '--sparse', '-C', src, 'cpmove-bob']);
      const target = path.join(tmp.path, `sparse-target-${format}`);
      const result = await runCli(['copy', `cpmove:${archive}#alice@example.com`, target, '--json']);
      expect(result.code, result.stderr).toBe(3);
      const doc = JSON.parse(result.stdout) as RestoreJson;
      expect(doc.skipped.map((s) => s.reason.split(':')[0])).toEqual(['tar-unsupported-entry']);
      expect(await readdir(path.join(target, 'cur')).catch(() => [])).toEqual([]);
    });
  }
});

describe('a target with a planted link', () => {
  it('writes nothing through a symlink the target already has where a folder would go, and lists what it left out', async () => {
    const archive = path.join(tmp.path, 'plain.tar');
    const src = path.join(tmp.path, 'plain-src');
    await mkdir(path.join(src, 'cpmove-bob/homedir/mail/example.com/alice/.Sent/cur'), { recursive: true });
    await mkdir(path.join(src, 'cpmove-bob/homedir/mail/example.com/alice/cur'), { recursive: true });
    await run('sh', ['-c', 'printf "Subject: a\\n\\nx\\n" > "$1/.Sent/cur/1.M1.h:2,S"; printf "Subject: b\\n\\ny\\n" > "$1/cur/2.M2.h:2,S"', 'sh', path.join(src, 'cpmove-bob/homedir/mail/example.com/alice')]);
    await run('tar', ['-cf', archive, '-C', src, 'cpmove-bob']);
    const target = path.join(tmp.path, 'planted');
    await mkdir(target);
    await run('ln', ['-s', outside, path.join(target, '.Sent')]);
    const result = await runCli(['copy', `cpmove:${archive}#alice@example.com`, target, '--json']);
    expect(result.code, result.stderr).toBe(3);
    const doc = JSON.parse(result.stdout) as RestoreJson;
    expect(doc.skipped.map((s) => s.reason.split(':')[0])).toEqual(['target-not-directory']);
    expect(await readdir(outside)).toEqual([]);
    expect(await readdir(path.join(target, 'cur'))).toEqual(['2.M2.h:2,S']);
  });
});
