import { lstat, mkdir, readdir, readlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
// The generator is the test oracle (plain JS, no shared code with mailshift).
// @ts-expect-error -- untyped .mjs script
import { generateCpanelTree } from '../../../scripts/gen-cpanel-tree.mjs';
import { runCommand } from '../../support/process.js';
import { writeTree, type TreeManifest } from '../../support/tree.js';

export interface GeneratedTree {
  readonly root: string;
  readonly outside: string;
  readonly truth: {
    accounts: { user: string; home: string; mailboxes: Record<string, { path: string; folders: Record<string, { messages: number; bytes: number; dirName: string }> }> }[];
  };
}

export function generate(manifest: unknown, outDir: string): GeneratedTree {
  const truth = generateCpanelTree(manifest, outDir) as GeneratedTree['truth'] & { root: string; outside: string };
  return { root: truth.root, outside: truth.outside, truth };
}

/** A cPanel target root with the account created (passwd/group entries and the /etc/v* directories). */
export async function makeTargetRoot(root: string, users: { user: string; uid: number }[]): Promise<void> {
  for (const dir of ['etc/valiases', 'etc/vfilters', 'etc/vdomainaliases', 'home']) await mkdir(path.join(root, dir), { recursive: true });
  await writeFile(path.join(root, 'etc/passwd'), ['root:x:0:0::/root:/bin/bash', ...users.map((u) => `${u.user}:x:${u.uid}:${u.uid}::/home/${u.user}:/bin/bash`)].map((l) => `${l}\n`).join(''));
  await writeFile(path.join(root, 'etc/group'), ['root:x:0:', 'mail:x:8:', ...users.map((u) => `${u.user}:x:${u.uid}:`)].map((l) => `${l}\n`).join(''));
}

/**
 * A source maildir of `count` messages, alternately in INBOX's cur/ and .Sent's, each with the body `bodyOf(i)` and
 * an mtime (received date) of its own; new/ and tmp/ empty.
 */
export async function writeSourceMaildir(root: string, count: number, bodyOf: (i: number) => string): Promise<void> {
  const manifest: Record<string, TreeManifest[string]> = { new: { type: 'dir' }, tmp: { type: 'dir' }, '.Sent/cur': { type: 'dir' } };
  for (let i = 0; i < count; i++) {
    const body = bodyOf(i);
    manifest[`${i % 2 === 0 ? 'cur' : '.Sent/cur'}/${1700000000 + i}.M${i}P1.host,S=${body.length}:2,S`] = { content: body, mtime: 1700000000 + i };
  }
  await writeTree(root, manifest);
}

/** Every message file (regular files in cur/ and new/) under a maildir tree, by base name. */
export async function messageBaseNames(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (entry.isFile() && /\/(cur|new)$/.test(d)) out.push(`${path.relative(dir, d).replace(/\/?(cur|new)$/, '')}|${entry.name.split(':')[0]}`);
    }
  };
  await walk(dir);
  return out.sort();
}

/** Every symlink under dir with its target resolved lexically; a target outside dir is a leak. */
export async function symlinksLeavingTree(dir: string): Promise<string[]> {
  const leaks: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isSymbolicLink()) {
        const target = path.resolve(d, await readlink(p));
        if (target !== dir && !target.startsWith(`${dir}/`)) leaks.push(`${p} -> ${target}`);
      } else if (entry.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return leaks;
}

export async function ownerOf(p: string): Promise<string> {
  const s = await lstat(p);
  return `${s.uid}:${s.gid} ${(s.mode & 0o7777).toString(8).padStart(4, '0')}`;
}

export const sshOptionsFor = (sshd: { clientKeyPath: string }) => [
  '--ssh-key', sshd.clientKeyPath,
  '--ssh-config', '/dev/null',
  '--ssh-option', 'StrictHostKeyChecking=no',
  '--ssh-option', 'UserKnownHostsFile=/dev/null',
  '--ssh-option', 'LogLevel=ERROR',
];

/** Lets Dovecot (as nobody) assign UIDs in the source, as a live server would have: dovecot-uidlist with records. */
export async function assignUidsWithDovecot(doveadmRun: (args: readonly string[]) => Promise<unknown>, maildir: string): Promise<void> {
  await runCommand('chown', ['-R', '--no-dereference', 'nobody:nogroup', '--', maildir]);
  await doveadmRun(['-o', `mail_location=maildir:${maildir}:INDEX=MEMORY`, 'mailbox', 'status', '-t', 'messages', '*']);
}
