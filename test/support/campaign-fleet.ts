import type { ChildProcess } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
// The generator is the test oracle: plain JS, no code shared with mailshift's readers.
// @ts-expect-error -- untyped .mjs script
import { generateCpanelTree } from '../../scripts/gen-cpanel-tree.mjs';
import type { CampaignEvent } from '../../src/campaign/run.js';
import { spawnCli } from '../e2e/cli.js';
import { messageBaseNames } from '../integration/copy/helpers.js';

/**
 * A generated cPanel server for the campaign tests (e2e and over ssh), and the independent checks they make on the
 * mail on disk. Sizes are skewed on purpose: most accounts hold a handful of messages, a few hold more, one (the
 * whale) holds one mailbox bigger than the target quota the tests plan with; the hostile account carries a link out
 * of the tree inside a maildir and a folder name that is unsafe as a path; the mbox account is kept in mbox, which a
 * plan from a cPanel root does not take (a hand-written row converts it).
 */
export interface FleetOptions {
  /** Ordinary maildir accounts, u00, u01, ... */
  readonly regular: number;
  readonly seed: number;
  readonly whale?: boolean;
  readonly hostile?: boolean;
  readonly mbox?: boolean;
}

export interface Fleet {
  readonly root: string;
  /** Canaries outside the root: nothing may read or copy them. */
  readonly outside: string;
  readonly regularUsers: readonly string[];
  /** Every maildir account of the server (regular, whale, hostile). */
  readonly maildirUsers: readonly string[];
}

export const whaleUser = 'whale';
export const hostileUser = 'mallory';
export const mboxUser = 'oldbox';
/** Messages of 20,000 bytes: the whale's INBOX holds 800,000 bytes, over the 500K quota the tests plan with. */
export const whaleMessages = 40;
export const targetQuota = '500K';
/** The hostile account's folder whose name is unsafe as a path (an empty hierarchy level): never copied. */
export const unsafeFolder = '..hidden';
export const escapingLink = '1717000010.M1P1.leak,S=10:2,S';

export function generateFleet(outDir: string, options: FleetOptions): Fleet {
  const accounts: unknown[] = [];
  const regularUsers: string[] = [];
  for (let i = 0; i < options.regular; i++) {
    const user = `u${String(i).padStart(2, '0')}`;
    regularUsers.push(user);
    // Skewed: most accounts 3-5 messages, every eighth one 23-27 in two mailboxes.
    const isLarger = i % 8 === 7;
    const inbox = isLarger ? 12 + (i % 5) : 1 + (i % 3);
    accounts.push({
      user,
      domains: [`${user}.example`],
      defaultMailbox: { folders: { INBOX: { cur: inbox, new: 1 }, Sent: { cur: 1 } } },
      ...(isLarger ? { mailboxes: [{ address: `info@${user}.example`, folders: { INBOX: { cur: 6 }, Archive: { cur: 3 } } }] } : {}),
    });
  }
  const maildirUsers = [...regularUsers];
  const raw: unknown[] = [];
  if (options.whale) {
    maildirUsers.push(whaleUser);
    accounts.push({ user: whaleUser, domains: ['whale.example'], defaultMailbox: { folders: { INBOX: { cur: whaleMessages, sizeBytes: 20_000 } } } });
  }
  if (options.hostile) {
    maildirUsers.push(hostileUser);
    accounts.push({ user: hostileUser, domains: ['mallory.example'], defaultMailbox: { folders: { INBOX: { cur: 2 } } } });
    raw.push(
      { path: `home/${hostileUser}/mail/cur/${escapingLink}`, symlink: '{outside}/canary.txt' },
      { path: `home/${hostileUser}/mail/${unsafeFolder}/cur/1717000100.M1P1.host,S=6:2,S`, content: 'hello\n' },
    );
  }
  if (options.mbox) accounts.push({ user: mboxUser, domains: ['oldbox.example'], format: 'mbox', defaultMailbox: { folders: { INBOX: { cur: 3 }, Archive: { cur: 2 } } } });
  const truth = generateCpanelTree({ seed: options.seed, accounts, raw }, outDir) as { root: string; outside: string };
  return { root: truth.root, outside: truth.outside, regularUsers, maildirUsers };
}

/** A target cPanel root as a new server has it: the users exist (copy's chown reads their ids from etc/passwd). */
export async function makeTargetRoot(sourceRoot: string, targetRoot: string): Promise<void> {
  await mkdir(path.join(targetRoot, 'etc'), { recursive: true });
  await mkdir(path.join(targetRoot, 'home'), { recursive: true });
  await copyFile(path.join(sourceRoot, 'etc/passwd'), path.join(targetRoot, 'etc/passwd'));
}

/** Where an account's mail lives under a cPanel root. */
export function mailDirOf(root: string, user: string): string {
  return path.join(root, 'home', user, 'mail');
}

/**
 * Every message file of a maildir tree (regular files in cur/ and new/, every mailbox and folder below), as
 * `folder|base name`, sorted: the base name is the part before ':2,', which flag changes leave alone, so a message
 * present twice in a folder appears twice. Links are not followed. (The copy tests' reader, shared.)
 */
export const readMessageNames = messageBaseNames;

/** The entries of a list that occur more than once. */
export function findRepeated(names: readonly string[]): string[] {
  const seen = new Set<string>();
  return [...new Set(names.filter((name) => seen.has(name) || !seen.add(name)))];
}

/** New deliveries since the prestage: files in new/ of the account's INBOX and Sent, as a delivery agent writes them. */
export async function deliverMail(root: string, user: string, count: number, tag: string): Promise<string[]> {
  const written: string[] = [];
  for (let i = 0; i < count; i++) {
    const folder = i % 2 === 0 ? '' : '.Sent';
    const body = `From: late@example.net\nTo: ${user}@example.com\nSubject: arrived after the prestage ${tag} ${i}\n\nhello ${i}\n`;
    const base = `${1_765_000_000 + i}.M${i}P4242Q${tag}.mx.example,S=${Buffer.byteLength(body)}`;
    await writeFile(path.join(mailDirOf(root, user), folder, 'new', base), body);
    written.push(`${folder}|${base}`);
  }
  return written;
}

/**
 * Flags changed by a mail client on the source since the prestage: the first `count` INBOX messages of cur/ get
 * their flags replaced by `flags` (a rename, as Dovecot does). Returns the base names changed.
 */
export async function changeFlags(root: string, user: string, count: number, flags: string): Promise<string[]> {
  const cur = path.join(mailDirOf(root, user), 'cur');
  const changed: string[] = [];
  for (const name of (await readdir(cur)).sort().slice(0, count)) {
    const base = name.split(':')[0]!;
    await rename(path.join(cur, name), path.join(cur, `${base}:2,${flags}`));
    changed.push(base);
  }
  return changed;
}

/** The flags a maildir's INBOX cur/ file of this base name carries. */
export async function flagsOf(mailRoot: string, base: string): Promise<string | undefined> {
  const name = (await readdir(path.join(mailRoot, 'cur'))).find((each) => each.split(':')[0] === base);
  return name?.split(':2,')[1];
}

/** Messages in an mbox file: its From_ separator lines (the generator quotes body lines that start with "From "). */
export async function countMboxMessages(file: string): Promise<number> {
  return (await readFile(file, 'utf8')).split('\n').filter((line) => line.startsWith('From ')).length;
}

/** A campaign's --json output: one event per line. */
export type CampaignEventLine = CampaignEvent & { readonly at: string };

export function parseEvents(stdout: string): CampaignEventLine[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as CampaignEventLine);
}

export function eventsOf<T extends CampaignEventLine['type']>(events: readonly CampaignEventLine[], type: T): Extract<CampaignEventLine, { type: T }>[] {
  return events.filter((event): event is Extract<CampaignEventLine, { type: T }> => event.type === type);
}

/**
 * Edits the rows of a plan `mailshift plan` wrote (no quoted fields: the tests' paths hold no comma or quote).
 * `edit` gets each row by column name and returns it changed.
 */
export function editPlanRows(text: string, edit: (row: Record<string, string>) => Record<string, string>): string {
  if (text.includes('"')) throw new Error('editPlanRows: the plan has quoted fields');
  let columns: string[] | undefined;
  return text
    .split('\n')
    .map((line) => {
      if (line.startsWith('#') || line.trim() === '') return line;
      const fields = line.split(',');
      if (!columns) {
        columns = fields;
        return line;
      }
      const row = Object.fromEntries(columns.map((name, at) => [name, fields[at] ?? '']));
      const edited = edit(row);
      return columns.map((name) => edited[name] ?? '').join(',');
    })
    .join('\n');
}

/** A campaign run in the background, its stdout collected as it comes. */
export function startCampaign(args: string[]): { child: ChildProcess; stdout: () => string } {
  const child = spawnCli(args);
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.resume();
  child.stdin!.end();
  return { child, stdout: () => out };
}

/** Resolves once `count` events of this type were printed; throws when the campaign ended before. */
export async function waitForEvents(child: ChildProcess, stdout: () => string, type: CampaignEventLine['type'], count = 1): Promise<void> {
  for (;;) {
    if (stdout().split('\n').filter((line) => line.includes(`"type":"${type}"`)).length >= count) return;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the campaign ended before ${count} ${type} event(s):\n${stdout()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
