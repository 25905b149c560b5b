import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../e2e/cli.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { writeTree } from '../../support/tree.js';
import { generate, makeTargetRoot } from './helpers.js';

/**
 * What discover reports as unsafe, copy must not carry: it leaves it behind, lists it with its reason and exits 3.
 * It used to merge a passwd line whose mailbox name climbs into another account, copy folders named "..hidden" and
 * ".bad<ESC>[31mname", and write every hole of a sparse message as zeros — all with exit 0.
 */
const hostile = JSON.parse(await readFile(path.resolve(import.meta.dirname, '../../../fixtures/cpanel/hostile.json'), 'utf8')) as unknown;
let temp: TempDir;

beforeAll(async () => {
  temp = await makeTempDir('copy-unsafe', { mode: 0o755 });
});
afterAll(async () => {
  await temp?.cleanup();
});

interface CopyJson {
  exitCode: number;
  skipped: { job: string; path: string; kind: string; reason: string }[];
}

describe('copy refuses what discover reports as unsafe', () => {
  it('does not merge a passwd line that climbs out of the account nor copy "..hidden" and ".bad<ESC>[31mname"; lists them and exits 3', async () => {
    const tree = generate(hostile, path.join(temp.path, 'hostile'));
    // The fixture's 8 GiB sparse message, shrunk (still sparse) so a copy that wrongly carried it stays cheap.
    await truncate(path.join(tree.root, 'home/mallory/mail/cur/1717000003.M3P1.mail.example.com:2,S'), 256 * 1024 * 1024);
    const target = path.join(temp.path, 'hostile-target');
    await makeTargetRoot(target, [{ user: 'mallory', uid: 4001 }]);

    const discover = await runCli(['--json', 'discover', tree.root, '--user', 'mallory']);
    const unsafe = (JSON.parse(discover.stdout) as { warnings: { severity: string; kind: string; path: string }[] }).warnings.filter((w) => w.severity === 'unsafe');

    const result = await runCli(['--json', 'copy', `cpanel:${tree.root}#mallory`, `cpanel:${target}#mallory`]);
    expect(result.code, result.stderr).toBe(3);
    const report = JSON.parse(result.stdout) as CopyJson;
    const skipped = report.skipped.map((s) => `${s.kind} ${path.relative(tree.root, s.path)}`);
    expect(skipped).toEqual(
      expect.arrayContaining([
        'unsafe-name home/mallory/mail/..hidden',
        'unsafe-name home/mallory/mail/.bad\u001b[31mname',
        'unsafe-name home/mallory/mail/cur/1717000004.M4P1.mail.example.com\nX-Injected: yes,S=3:2,S',
        'unsafe-name home/mallory/etc/mallory.example/passwd',
        'sparse-file home/mallory/mail/cur/1717000003.M3P1.mail.example.com:2,S',
      ]),
    );
    expect(report.skipped.find((s) => s.path.endsWith('/passwd'))!.reason).toContain('../../../victim/mail/victim.example/ceo');
    // Discover's unsafe names and sparse files in this account are exactly what copy refused.
    for (const w of unsafe.filter((x) => ['unsafe-name', 'sparse-file'].includes(x.kind) && x.path.startsWith('home/mallory/'))) {
      expect(skipped, `discover: ${w.kind} ${w.path}`).toContain(`${w.kind} ${w.path}`);
    }

    const mail = path.join(target, 'home/mallory/mail');
    expect(existsSync(path.join(mail, '..hidden'))).toBe(false);
    expect(existsSync(path.join(mail, '.bad\u001b[31mname'))).toBe(false);
    expect(existsSync(path.join(mail, 'cur/1717000003.M3P1.mail.example.com:2,S'))).toBe(false);
    expect(existsSync(path.join(mail, 'cur/1717000004.M4P1.mail.example.com\nX-Injected: yes,S=3:2,S'))).toBe(false);
    const passwd = await readFile(path.join(target, 'home/mallory/etc/mallory.example/passwd'), 'utf8');
    expect(passwd).not.toContain('victim');
    expect(passwd).toMatch(/^thief:/m);
  });

  it('never inflates a sparse message nor trusts a huge ",S=" its file does not have: both skipped and listed, exit 3', async () => {
    const src = path.join(temp.path, 'sparse-src');
    const sparseName = '1717000001.M1P1.host,S=268435456:2,S';
    const liarName = '1717000002.M2P1.host,S=34359738368:2,S';
    await writeTree(src, {
      [`cur/${sparseName}`]: '',
      [`.Sent/new/${liarName.replace(':2,S', '')}`]: 'hello',
      'cur/1717000003.M3P1.host,S=5:2,S': 'hello',
      tmp: { type: 'dir' },
    });
    await truncate(path.join(src, 'cur', sparseName), 268435456);
    const dst = path.join(temp.path, 'sparse-dst');
    const result = await runCli(['--json', 'copy', src, dst]);
    expect(result.code, result.stderr).toBe(3);
    const report = JSON.parse(result.stdout) as CopyJson;
    expect(report.skipped.map((s) => `${s.kind} ${path.relative(src, s.path)}`).sort()).toEqual([`size-mismatch .Sent/new/${liarName.replace(':2,S', '')}`, `sparse-file cur/${sparseName}`]);
    expect(existsSync(path.join(dst, 'cur', sparseName))).toBe(false);
    expect(existsSync(path.join(dst, '.Sent/new', liarName.replace(':2,S', '')))).toBe(false);
    expect(await readFile(path.join(dst, 'cur/1717000003.M3P1.host,S=5:2,S'), 'utf8')).toBe('hello');
  });

  it('carries a folder whose name is not valid UTF-8 (Latin-1) byte for byte: odd, not unsafe', async () => {
    const src = path.join(temp.path, 'latin1-src');
    await writeTree(src, { 'cur/1717000001.M1P1.host,S=5:2,S': 'hello', new: { type: 'dir' }, tmp: { type: 'dir' } });
    // ".caf\xe9 latin1": the folder's name as an old Latin-1 client wrote it (no UTF-8 string can name it).
    const latin1 = Buffer.concat([Buffer.from(src + '/.caf'), Buffer.from([0xe9]), Buffer.from(' latin1')]);
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(Buffer.concat([latin1, Buffer.from(`/${sub}`)]), { recursive: true });
    await writeFile(Buffer.concat([latin1, Buffer.from('/cur/1717000002.M2P1.host,S=6:2,S')]), 'bonjour');
    const dst = path.join(temp.path, 'latin1-dst');

    const result = await runCli(['--json', 'copy', src, dst]);
    expect(result.code, result.stderr).toBe(0);
    expect((JSON.parse(result.stdout) as CopyJson).skipped).toEqual([]);
    const names = (await readdir(dst, { encoding: 'buffer' })).map((n) => n.toString('latin1'));
    expect(names).toContain('.caf\u00e9 latin1');
    const copied = Buffer.concat([Buffer.from(dst + '/.caf'), Buffer.from([0xe9]), Buffer.from(' latin1/cur/1717000002.M2P1.host,S=6:2,S')]);
    expect(await readFile(copied, 'utf8')).toBe('bonjour');
  });
});
