import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, runCli } from './cli.js';
import { runCommand } from '../support/process.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';
// @ts-ignore -- plain .mjs script without type declarations (scripts run without a build step)
import { generateCpanelTree } from '../../scripts/gen-cpanel-tree.mjs';

interface Truth {
  root: string;
  outside: string;
  secrets: string[];
  accounts: { user: string; mailboxes: Record<string, { folders: Record<string, { messages?: number }> }> }[];
  expectedFindings: { kind: string; path: string; onlyWithoutDacOverride?: boolean; onlyWithStat?: boolean }[];
}
interface Doc {
  schema: string;
  version: number;
  totals: { accounts: number; mailboxes: number; messages: number; warnings: { unsafe: number } };
  accounts: { user: string; mailboxes: { address: string; messages: number | null }[] }[];
  warnings: { kind: string; severity: string; mailbox: string | null; path: string | null }[];
}

const fixture = (name: string) => JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../fixtures/cpanel', name), 'utf8'));

function hasTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v "$1"', 'sh', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('mailshift discover on a generated cPanel server (the built CLI)', () => {
  let temp: TempDir;
  let truth: Truth;

  beforeAll(async () => {
    temp = await makeTempDir('discover-basic');
    truth = generateCpanelTree(fixture('basic.json'), temp.path) as Truth;
  });
  afterAll(() => temp.cleanup());

  it('prints a versioned JSON inventory whose totals match what was written, and exits 0', async () => {
    const result = await runCli(['discover', truth.root, '--json']);
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout) as Doc;
    expect({ schema: doc.schema, version: doc.version }).toEqual({ schema: 'mailshift.discover', version: 1 });
    const written = truth.accounts.flatMap((a) => Object.values(a.mailboxes)).flatMap((m) => Object.values(m.folders)).reduce((n, f) => n + (f.messages ?? 0), 0);
    expect(doc.totals.messages).toBe(written);
    expect(doc.totals.accounts).toBe(truth.accounts.length);
    expect(doc.totals.mailboxes).toBe(truth.accounts.reduce((n, a) => n + Object.keys(a.mailboxes).length, 0));
    expect(doc.totals.warnings.unsafe).toBe(0);
    const warnings = doc.warnings.map((w) => `${w.kind} ${w.mailbox ?? w.path}`);
    expect(warnings).toEqual(
      expect.arrayContaining([
        'over-quota sales@alice.example',
        'orphan-mail-dir ghost@dave.example',
        'orphan-passwd-entry nodir@dave.example',
        'account-not-in-cpanel home/erin',
        'mdbox-not-file-copyable team@carol.example',
      ]),
    );
    expect(warnings.some((w) => w.startsWith('larger-than-target-quota'))).toBe(false);
  });

  it('warns about the mailbox larger than --target-quota', async () => {
    const result = await runCli(['discover', truth.root, '--json', '--target-quota', '1M']);
    const doc = JSON.parse(result.stdout) as Doc;
    expect(doc.warnings.filter((w) => w.kind === 'larger-than-target-quota').map((w) => w.mailbox)).toEqual(['big@dave.example']);
  });

  it('never prints a password hash, in any output format', async () => {
    for (const args of [['--json'], ['--csv'], []]) {
      const result = await runCli(['discover', truth.root, ...args]);
      for (const secret of truth.secrets) expect(result.stdout).not.toContain(secret.slice(4, 40));
    }
  });

  it('prints one CSV row per mailbox and a readable table by default', async () => {
    const csv = await runCli(['discover', truth.root, '--csv']);
    expect(csv.code).toBe(0);
    const lines = csv.stdout.split('\r\n').filter(Boolean);
    expect(lines[0]).toMatch(/^account,address,kind,/);
    expect(lines).toHaveLength(1 + truth.accounts.reduce((n, a) => n + Object.keys(a.mailboxes).length, 0));
    const table = await runCli(['discover', truth.root]);
    expect(table.stdout).toMatch(/^cPanel root .+: 5 accounts, 14 mailboxes, \d+ messages/);
    expect(table.stdout).toMatch(/alice +info@alice\.example +maildir/);
  });

  it('refuses a root that is not a cPanel server, and conflicting formats, with exit 2', async () => {
    const notCpanel = await runCli(['discover', path.join(truth.root, 'home', 'alice', 'mail', 'cur')]);
    expect(notCpanel.code).toBe(2);
    expect(notCpanel.stderr).toMatch(/does not look like a cPanel server/);
    const missing = await runCli(['discover', path.join(truth.root, 'nope')]);
    expect(missing.code).toBe(2);
    const both = await runCli(['discover', truth.root, '--json', '--csv']);
    expect(both.code).toBe(2);
  });
});

describe('mailshift discover on a hostile cPanel server (the built CLI)', () => {
  let temp: TempDir;
  let truth: Truth;

  beforeAll(async () => {
    temp = await makeTempDir('discover-hostile');
    truth = generateCpanelTree(fixture('hostile.json'), temp.path) as Truth;
  });
  afterAll(() => temp.cleanup());

  it('reports every planted item and exits 3', async () => {
    const result = await runCli(['discover', truth.root, '--json']);
    expect(result.code).toBe(3);
    const doc = JSON.parse(result.stdout) as Doc;
    const reported = doc.warnings.map((w) => `${w.kind} ${w.path}`);
    for (const f of truth.expectedFindings.filter((x) => !x.onlyWithoutDacOverride && !x.onlyWithStat)) expect(reported).toContain(`${f.kind} ${f.path}`);
    expect(doc.totals.warnings.unsafe).toBeGreaterThan(0);
  });

  it('reads nothing outside the tree and follows no link: every file system syscall, traced with strace', async () => {
    if (!hasTool('strace')) {
      console.warn('strace not installed: the in-process check (test/cpanel/inventory/no-escape.test.ts) still ran');
      return;
    }
    const traceDir = path.join(temp.path, 'trace');
    execFileSync('mkdir', ['-p', traceDir]);
    // -ff: one file per thread, so libuv's pool threads never interleave half lines; -y: fds shown with the path
    // the kernel resolved, which is where a followed link would show.
    const result = await runCommand(
      'strace',
      ['-ff', '-qq', '-y', '-s', '4096', '-e', 'trace=open,openat,openat2,stat,lstat,newfstatat,statx,readlink,readlinkat,getdents64,access,faccessat2', '-o', path.join(traceDir, 't'), process.execPath, cliPath, 'discover', truth.root, '--json', '--stat'],
      { allowFailure: true, timeoutMs: 60_000 },
    );
    expect(result.code).toBe(3);
    const lines = readdirSync(traceDir).flatMap((f) => readFileSync(path.join(traceDir, f), 'utf8').split('\n'));
    const root = realpathSync(truth.root);
    const outside = realpathSync(truth.outside);
    const violations: string[] = [];
    let checked = 0;
    for (const line of lines) {
      const call = /^(\w+)\((.*)\)\s+=/.exec(line);
      if (!call) continue;
      const [, name, args] = call as unknown as [string, string, string];
      // What the kernel resolved: an fd annotation pointing outside means something was opened there.
      for (const m of line.matchAll(/<([^<>]*)>/g)) if (m[1]!.startsWith(outside)) violations.push(`resolved outside: ${line}`);
      if (name === 'readlink' || name === 'readlinkat') continue; // its second argument is the link text, not a path used
      const quoted = [...args.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]!.replace(/\\x([0-9a-f]{2})/g, '\\u00$1')}"`) as string);
      const p = quoted[0];
      if (p === undefined || !p.startsWith(`${root}/`)) {
        if (p !== undefined && p.startsWith(outside)) violations.push(`named outside: ${line}`);
        continue;
      }
      checked += 1;
      const dir = path.dirname(p);
      if (existsSync(dir) && realpathSync(dir) !== dir) violations.push(`through a link: ${line}`);
      let isLink = false;
      try {
        isLink = lstatSync(p).isSymbolicLink();
      } catch {
        continue;
      }
      if (!isLink) continue;
      const noFollow = /AT_SYMLINK_NOFOLLOW|O_NOFOLLOW/.test(args) || name === 'lstat';
      if (!noFollow) violations.push(`follows a link: ${line}`);
    }
    expect(checked).toBeGreaterThan(100);
    expect(violations).toEqual([]);
  });

  it('reports what the kernel refuses to read as unreadable when root has no override (CAP_DAC_OVERRIDE dropped)', async () => {
    if (!hasTool('setpriv')) {
      console.warn('setpriv not installed: mode-based unreadable detection is still covered in-process');
      return;
    }
    const drop = '-dac_override,-dac_read_search';
    const result = await runCommand('setpriv', [`--inh-caps=${drop}`, `--bounding-set=${drop}`, '--', process.execPath, cliPath, 'discover', truth.root, '--json'], {
      allowFailure: true,
      timeoutMs: 60_000,
    });
    expect(result.code).toBe(3);
    const doc = JSON.parse(result.stdout.toString('utf8')) as Doc;
    const unreadable = doc.warnings.filter((w) => w.kind === 'unreadable').map((w) => w.path);
    for (const f of truth.expectedFindings.filter((x) => x.kind === 'unreadable' && !x.onlyWithStat)) expect(unreadable).toContain(f.path);
    // The rest of the tree was still inventoried.
    expect(doc.accounts.find((a) => a.user === 'victim')?.mailboxes.find((m) => m.address === 'ceo@victim.example')?.messages).toBe(4);
  });
});
