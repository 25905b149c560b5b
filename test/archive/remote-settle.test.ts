import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildLinkArgv, buildLinkInput, buildSettleArgv, buildSettleInput, formatSettleRecord, parseLinkOutput, parseSettleOutput, type PlacedLink, type SettleDir } from '../../src/archive/remote-settle.js';
import { LocalFileSide } from '../../src/hosts/local.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

const run = promisify(execFile);

let tmp: TempDir;
beforeEach(async () => {
  tmp = await makeTempDir('remote-settle');
});
afterEach(async () => {
  await tmp.cleanup();
});

describe('the settle command', () => {
  it('is a fixed script: names reach it as words from NUL-separated stdin, never inside it', () => {
    const argv = buildSettleArgv('/home/bob/mail', 'tmp/mailshift-restore.ab/1');
    expect(argv.slice(0, 5)).toEqual(['xargs', '-0', '-r', 'sh', '-c']);
    expect(argv.slice(6)).toEqual(['sh', '/home/bob/mail', 'tmp/mailshift-restore.ab/1']);
    expect(argv[5]).toBe(buildSettleArgv('/srv/other', 'tmp/x/2')[5]);
    // Never replaces: mv -n only, and never a rename that names its target file (-T) or forces.
    expect(argv[5]).toMatch(/mv -n -t \. --/);
    expect(argv[5]).not.toMatch(/mv [^;\n]*-f/);
    expect(() => buildSettleArgv('relative', 'tmp/x/1')).toThrow(/absolute/);
    expect(() => buildSettleArgv('/m', '../x/1')).toThrow(/inside/);
  });

  it('writes each final directory as N/ROOT//REL, the root ending at the first //', () => {
    expect(formatSettleRecord({ n: 3, dir: '/home/bob/mail/.Sent/cur', root: '/home/bob/mail' })).toBe('3//home/bob/mail//.Sent/cur');
    expect(formatSettleRecord({ n: 1, dir: '/home/bob', root: '/home/bob/' })).toBe('1//home/bob//');
    expect(formatSettleRecord({ n: 2, dir: '/srv/x/cur', root: '/' })).toBe('2///srv/x/cur');
    expect(() => formatSettleRecord({ n: 1, dir: '/home/alice/cur', root: '/home/bob' })).toThrow(/not inside/);
    expect(() => formatSettleRecord({ n: 1.5, dir: '/m/cur', root: '/m' })).toThrow(/number/);
    expect(buildSettleInput([{ n: 1, dir: '/m/cur', root: '/m' }, { n: 2, dir: '/m/.A/cur', root: '/m' }]).toString('utf8')).toBe('1//m//cur\u00002//m//.A/cur\u0000');
  });

  it('reads what was left, and where nothing was moved', () => {
    expect(parseSettleOutput('E1/a:2,S\u0000F2/b\nc\u0000L3\u0000')).toEqual({ taken: [{ n: 1, name: 'a:2,S' }], failed: [{ n: 2, name: 'b\nc' }], notReached: [3] });
    expect(parseSettleOutput('')).toEqual({ taken: [], failed: [], notReached: [] });
  });
});

describe('the settle command, run here (the same sh, find and mv as on the far host)', () => {
  const canary = 'mailshift-settle-canary';
  const odd = [`$(touch ${canary}) 'q'"d"\nline:2,S`, '-n', '.dot:2,S', '*', 'caf\u00e9 \u2603:2,S', 'a\\b'];

  /** A staging batch `tmp/st/1` under `root` with the files given per subdirectory. */
  async function stageBatch(root: string, files: Record<number, readonly string[]>): Promise<void> {
    for (const [n, names] of Object.entries(files)) {
      await mkdir(path.join(root, 'tmp/st/1', n), { recursive: true });
      for (const name of names) await writeFile(path.join(root, 'tmp/st/1', n, name), `staged ${name}`);
    }
  }

  async function settle(root: string, dirs: readonly SettleDir[]): Promise<{ exitCode: number | undefined; out: ReturnType<typeof parseSettleOutput> }> {
    const result = await new LocalFileSide().run(buildSettleArgv(root, 'tmp/st/1'), { input: buildSettleInput(dirs) });
    return { exitCode: result.exitCode, out: parseSettleOutput(result.stdout.toString('utf8')) };
  }

  it('moves every file of a staging subdirectory into its final directory under its own name, and never replaces one', async () => {
    const root = path.join(tmp.path, 'mail');
    await mkdir(path.join(root, 'cur'), { recursive: true });
    await mkdir(path.join(root, '.Sent/cur'), { recursive: true });
    await writeFile(path.join(root, 'cur/taken:2,S'), 'the target’s own');
    await stageBatch(root, { 1: ['1.M1.h:2,S', 'taken:2,S', ...odd], 2: ['2.M2.h:2,S'] });
    const { exitCode, out } = await settle(root, [
      { n: 1, dir: path.join(root, 'cur'), root },
      { n: 2, dir: path.join(root, '.Sent/cur'), root },
    ]);
    expect(exitCode).toBe(0);
    expect(out).toEqual({ taken: [{ n: 1, name: 'taken:2,S' }], failed: [], notReached: [] });
    expect((await readdir(path.join(root, 'cur'))).sort()).toEqual(['1.M1.h:2,S', 'taken:2,S', ...odd].sort());
    expect(await readFile(path.join(root, 'cur/taken:2,S'), 'utf8')).toBe('the target’s own');
    for (const name of odd) expect(await readFile(path.join(root, 'cur', name), 'utf8')).toBe(`staged ${name}`);
    expect(await readdir(path.join(root, '.Sent/cur'))).toEqual(['2.M2.h:2,S']);
    // Only the taken one is left where it was staged.
    expect(await readdir(path.join(root, 'tmp/st/1/1'))).toEqual(['taken:2,S']);
    expect(existsSync(path.join(root, canary))).toBe(false);
    expect(existsSync(path.join(root, 'cur', canary))).toBe(false);
  });

  it('says a name is taken whatever it holds: mv’s own quoting of odd names decides nothing', async () => {
    const root = path.join(tmp.path, 'mail');
    await mkdir(path.join(root, 'cur'), { recursive: true });
    for (const name of odd) await writeFile(path.join(root, 'cur', name), 'the target’s own');
    await stageBatch(root, { 1: odd });
    const { out } = await settle(root, [{ n: 1, dir: path.join(root, 'cur'), root }]);
    expect(out.taken.map((t) => t.name).sort()).toEqual([...odd].sort());
    for (const name of odd) expect(await readFile(path.join(root, 'cur', name), 'utf8')).toBe('the target’s own');
  });

  it('moves nothing into a final directory that is a link, or that has a link on the way from its root', async () => {
    const root = path.join(tmp.path, 'mail');
    const outside = path.join(tmp.path, 'outside');
    await mkdir(path.join(outside, 'cur'), { recursive: true });
    await mkdir(root, { recursive: true });
    await symlink(path.join(outside, 'cur'), path.join(root, 'cur'));
    await symlink(outside, path.join(root, '.Sent'));
    await mkdir(path.join(root, '.Fine/cur'), { recursive: true });
    await stageBatch(root, { 1: ['a:2,S'], 2: ['b:2,S'], 3: ['c:2,S'] });
    const { exitCode, out } = await settle(root, [
      { n: 1, dir: path.join(root, 'cur'), root },
      { n: 2, dir: path.join(root, '.Sent/cur'), root },
      { n: 3, dir: path.join(root, '.Fine/cur'), root },
    ]);
    expect(exitCode).toBe(0);
    expect([...out.notReached].sort()).toEqual([1, 2]);
    expect(await readdir(path.join(outside, 'cur'))).toEqual([]);
    expect(await readdir(path.join(root, '.Fine/cur'))).toEqual(['c:2,S']);
  });

  it('starts the walk at the root, which may itself be a link (a home under a linked /home)', async () => {
    const real = path.join(tmp.path, 'real-home');
    const linked = path.join(tmp.path, 'home');
    await mkdir(path.join(real, 'mail/cur'), { recursive: true });
    await symlink(real, linked);
    await stageBatch(path.join(linked, 'mail'), { 1: ['a:2,S'], 2: ['.forward'] });
    const mail = path.join(linked, 'mail');
    const { out } = await settle(mail, [
      { n: 1, dir: path.join(mail, 'cur'), root: mail },
      { n: 2, dir: linked, root: linked },
    ]);
    expect(out).toEqual({ taken: [], failed: [], notReached: [] });
    expect(await readdir(path.join(real, 'mail/cur'))).toEqual(['a:2,S']);
    expect(await readFile(path.join(real, '.forward'), 'utf8')).toBe('staged .forward');
  });

  it('moves nothing when the staging directory is no longer where it was made', async () => {
    const root = path.join(tmp.path, 'mail');
    const elsewhere = path.join(tmp.path, 'elsewhere');
    await mkdir(path.join(elsewhere, 'st/1/1'), { recursive: true });
    await writeFile(path.join(elsewhere, 'st/1/1/planted:2,S'), 'not ours');
    await mkdir(path.join(root, 'cur'), { recursive: true });
    await symlink(elsewhere, path.join(root, 'tmp'));
    const { exitCode } = await settle(root, [{ n: 1, dir: path.join(root, 'cur'), root }]);
    expect(exitCode).not.toBe(0);
    expect(await readdir(path.join(root, 'cur'))).toEqual([]);
  });

  it('settles a folder whose name ends in a newline (the check of where the shell stands keeps it)', async () => {
    const root = path.join(tmp.path, 'mail');
    await mkdir(path.join(root, '.Odd\n/cur'), { recursive: true });
    await stageBatch(root, { 1: ['a:2,S'] });
    const { out } = await settle(root, [{ n: 1, dir: path.join(root, '.Odd\n/cur'), root }]);
    expect(out).toEqual({ taken: [], failed: [], notReached: [] });
    expect(await readdir(path.join(root, '.Odd\n/cur'))).toEqual(['a:2,S']);
  });

  it('is plain POSIX sh (run by dash here, as on Debian hosts)', async () => {
    await expect(run('sh', ['-n', '-c', buildSettleArgv('/m', 'tmp/x/1')[5]!])).resolves.toBeDefined();
  });
});

describe('the link command (hard links to files an earlier batch placed)', () => {
  it('is a fixed script through xargs -0, one word per link, never ln -f', () => {
    const argv = buildLinkArgv();
    expect(argv.slice(0, 5)).toEqual(['xargs', '-0', '-r', 'sh', '-c']);
    expect(argv.slice(6)).toEqual(['sh']);
    expect(argv[5]).toMatch(/ln -P -T --/);
    expect(argv[5]).not.toMatch(/ln [^;\n]*-f/);
    expect(buildLinkInput([{ from: '/m/cur/a:2,S', fromRoot: '/m', to: '/m/.Sent/cur/b:2,S', toRoot: '/m' }]).toString('utf8')).toBe('0//m//.Sent/cur///m//cur//a:2,S//b:2,S\u0000');
  });

  it('reads which links were made, taken, failed or not reached', () => {
    expect(parseLinkOutput('D0\u0000E1\u0000F2\u0000L3\u0000')).toEqual({ made: [0], taken: [1], failed: [2], notReached: [3] });
    expect(parseLinkOutput('')).toEqual({ made: [], taken: [], failed: [], notReached: [] });
  });

  async function link(links: readonly PlacedLink[]): Promise<ReturnType<typeof parseLinkOutput>> {
    const result = await new LocalFileSide().run(buildLinkArgv(), { input: buildLinkInput(links) });
    return parseLinkOutput(result.stdout.toString('utf8'));
  }

  it('links, never over a taken name, whatever the names hold (run here)', async () => {
    const root = path.join(tmp.path, 'mail');
    await mkdir(path.join(root, 'cur'), { recursive: true });
    await mkdir(path.join(root, '.Sent/cur'), { recursive: true });
    const odd = `$(touch canary) 'q'\nx:2,S`;
    await writeFile(path.join(root, 'cur', odd), 'first copy');
    await writeFile(path.join(root, '.Sent/cur/taken'), 'the target’s own');
    const out = await link([
      { from: path.join(root, 'cur', odd), fromRoot: root, to: path.join(root, '.Sent/cur', `-${odd}`), toRoot: root },
      { from: path.join(root, 'cur', odd), fromRoot: root, to: path.join(root, '.Sent/cur/taken'), toRoot: root },
    ]);
    expect(out).toEqual({ made: [0], taken: [1], failed: [], notReached: [] });
    expect((await stat(path.join(root, '.Sent/cur', `-${odd}`))).ino).toBe((await stat(path.join(root, 'cur', odd))).ino);
    expect(await readFile(path.join(root, '.Sent/cur/taken'), 'utf8')).toBe('the target’s own');
    expect(existsSync(path.join(root, '.Sent/cur/canary'))).toBe(false);
  });

  it('neither reads nor writes through a folder swapped for a link', async () => {
    const root = path.join(tmp.path, 'mail');
    const outside = path.join(tmp.path, 'outside');
    await mkdir(outside);
    await writeFile(path.join(outside, 'secret'), 'not the user’s');
    await mkdir(path.join(root, 'cur'), { recursive: true });
    await writeFile(path.join(root, 'cur/a:2,S'), 'first copy');
    await symlink(outside, path.join(root, '.Evil'));
    const out = await link([
      // The first copy's folder is a link to a directory outside: its "secret" must not be linked in.
      { from: path.join(root, '.Evil/secret'), fromRoot: root, to: path.join(root, 'cur/got-secret'), toRoot: root },
      // The link's folder is a link to outside: nothing may be made there.
      { from: path.join(root, 'cur/a:2,S'), fromRoot: root, to: path.join(root, '.Evil/planted'), toRoot: root },
    ]);
    expect(out).toEqual({ made: [], taken: [], failed: [], notReached: [0, 1] });
    expect(await readdir(outside)).toEqual(['secret']);
    expect(await readdir(path.join(root, 'cur'))).toEqual(['a:2,S']);
  });
});
