import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { link, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import tarStream from 'tar-stream';
import { writeTree, type TreeManifest } from './tree.js';

/**
 * Test generator for cPanel backups (cpmove archives), packed by GNU tar as cPanel's pkgacct packs them:
 * `cpmove-bob/` at the top, the mail under `homedir/mail/DOMAIN/LOCAL/`, the account files under `homedir/etc/`,
 * `cp/bob` and `va/DOMAIN`. What the tree holds is what the restore must carry:
 *
 * - alice@example.com: INBOX (cur/ with flags, new/), `.Sent`, `.Archive` whose message is a hard link of an INBOX
 *   message (Dovecot's copy between folders), a UTF-8 folder `.Entwürfe` with a message whose name is long enough
 *   (and whose path is over 255 bytes) to need a GNU long name or a pax path, dovecot-uidlist, dovecot-keywords,
 *   subscriptions; mtimes with a fraction of a second; in `.Sent`, a hard link of the default mailbox's message.
 * - the account's default mailbox (mail/cur), one message.
 * - carol@example.com: an mdbox mailbox (storage/, mailboxes/), which only Dovecot can turn back into messages.
 * - homedir/etc/example.com/{passwd,shadow,quota}, cp/bob, va/example.com, an autoresponder.
 *
 * Entry order: mail/ first, etc/ after it (cPanel does not promise etc/ first). `nestedHome`: the home directory is
 * packed on its own as `homedir.tar` inside the archive (older and split backups).
 */

const run = promisify(execFile);

export const fixtureUser = 'bob';
export function message(id: string, subject: string): string {
  return `Message-ID: <${id}@example.com>\nFrom: a@example.com\nSubject: ${subject}\n\nbody of ${id}\n`;
}

/** A maildir name with the S= size Dovecot checks against the file. */
function named(base: string, content: string, info?: string): string {
  return `${base},S=${Buffer.byteLength(content)}${info === undefined ? '' : `:2,${info}`}`;
}

const m1 = message('m1', 'seen');
const m2 = message('m2', 'flagged with a keyword');
const m3 = message('m3', 'new');
const m4 = message('m4', 'sent');
const m5 = message('m5', 'draft with a long name');
const d1 = message('d1', 'default mailbox');

export const longName = named(`1700000100.M${'7'.repeat(150)}P42.mail.example.com`, m5, 'S');
/** The default mailbox's message, which alice's Sent also has (hard-linked across mailboxes). */
export const crossLinked = named('1700000010.M10P1.mail.example.com', d1, 'S');
const inboxNames = [named('1700000001.M1P1.mail.example.com', m1, 'S'), named('1700000002.M2P1.mail.example.com', m2, 'FSa'), named('1700000003.M3P1.mail.example.com', m3)];
/** The INBOX message that `.Archive` holds as a hard link. */
export const archivedName = inboxNames[0]!;

/** The messages of alice's INBOX and folders, by maildir path relative to the mailbox, with their mtimes. */
export const aliceFiles: Record<string, { content: string; mtime: number }> = {
  [`cur/${inboxNames[0]}`]: { content: m1, mtime: 1700000001.25 },
  [`cur/${inboxNames[1]}`]: { content: m2, mtime: 1700000002.5 },
  [`new/${inboxNames[2]}`]: { content: m3, mtime: 1700000003.75 },
  [`.Sent/cur/${named('1700000004.M4P1.mail.example.com', m4, 'S')}`]: { content: m4, mtime: 1700000004.125 },
  [`.Entw\u00fcrfe/cur/${longName}`]: { content: m5, mtime: 1700000005.5 },
};

const uidlist = `3 V1700000000 N4 G0123456789abcdef0123456789abcdef\n${inboxNames.map((n, i) => `${i + 1} :${n.replace(/:2,.*$/, '')}`).join('\n')}\n`;

export interface CpmoveTree {
  /** The directory that holds cpmove-bob/. */
  readonly parent: string;
  /** cpmove-bob/ itself. */
  readonly top: string;
  /** alice's maildir inside it. */
  readonly alice: string;
}

export async function writeCpmoveTree(parent: string): Promise<CpmoveTree> {
  const top = path.join(parent, `cpmove-${fixtureUser}`);
  const mail = 'homedir/mail';
  const alice = `${mail}/example.com/alice`;
  const manifest: Record<string, TreeManifest[string]> = {
    [`${alice}/tmp`]: { type: 'dir' },
    [`${alice}/.Sent/tmp`]: { type: 'dir' },
    [`${alice}/.Sent/new`]: { type: 'dir' },
    [`${alice}/.Sent/maildirfolder`]: '',
    [`${alice}/.Archive/tmp`]: { type: 'dir' },
    [`${alice}/.Archive/new`]: { type: 'dir' },
    [`${alice}/.Archive/maildirfolder`]: '',
    [`${alice}/.Entw\u00fcrfe/tmp`]: { type: 'dir' },
    [`${alice}/.Entw\u00fcrfe/new`]: { type: 'dir' },
    [`${alice}/.Entw\u00fcrfe/maildirfolder`]: '',
    [`${alice}/dovecot-uidlist`]: uidlist,
    [`${alice}/dovecot-keywords`]: '0 $Important\n',
    [`${alice}/subscriptions`]: 'V\t2\n\nSent\nArchive\nEntw\u00fcrfe\n',
    [`${alice}/dovecot.index.cache`]: 'index bytes, never restored',
    [`${mail}/cur/${crossLinked}`]: { content: d1, mtime: 1700000010.5 },
    [`${mail}/new`]: { type: 'dir' },
    [`${mail}/tmp`]: { type: 'dir' },
    [`${mail}/example.com/carol/storage/m.1`]: 'mdbox storage bytes',
    [`${mail}/example.com/carol/mailboxes/INBOX/dbox-Mails/dovecot.index`]: 'index',
    'homedir/etc/example.com/passwd': 'alice:x:1000:1000::/home/bob/mail/example.com/alice:/bin/bash\ncarol:x:1000:1000::/home/bob/mail/example.com/carol:/bin/bash\n',
    'homedir/etc/example.com/shadow': 'alice:$6$saltsalt$hash:19000::::::\ncarol:$6$saltsalt$hash2:19000::::::\n',
    'homedir/etc/example.com/quota': 'alice:1073741824\n',
    'homedir/.autorespond/alice@example.com': 'From: alice@example.com\nSubject: away\n\nI am away.\n',
    'homedir/public_html/index.html': '<p>not mail</p>\n',
    // Every cPanel home has it: not mail, and nothing a restore should list.
    'homedir/www': { type: 'symlink', target: 'public_html' },
    [`cp/${fixtureUser}`]: `DNS=example.com\nUSER=${fixtureUser}\nMAXPOP=unlimited\n`,
    'va/example.com': 'alice@example.com: alice@example.org\n*: bob\n',
  };
  for (const [rel, file] of Object.entries(aliceFiles)) manifest[`${alice}/${rel}`] = { content: file.content, mtime: file.mtime };
  await writeTree(top, manifest);
  // Dovecot's copy between folders: the Archive message is the INBOX message, hard-linked.
  await mkdir(path.join(top, alice, '.Archive/cur'), { recursive: true });
  await link(path.join(top, alice, `cur/${archivedName}`), path.join(top, alice, `.Archive/cur/${archivedName}`));
  // A link across mailboxes (a message delivered to both): its first copy, in the default mailbox, comes first in the
  // archive, so restoring alice alone must fetch its bytes in a second pass.
  await link(path.join(top, mail, `cur/${crossLinked}`), path.join(top, alice, `.Sent/cur/${crossLinked}`));
  return { parent, top, alice: path.join(top, alice) };
}

export interface PackOptions {
  readonly format: 'gnu' | 'posix';
  readonly gzip: boolean;
  /** Pack the home directory as a nested homedir.tar. */
  readonly nestedHome?: boolean;
}

/** Packs cpmove-bob/ with GNU tar, mail before etc/, into `out`. */
export async function packCpmove(tree: CpmoveTree, out: string, options: PackOptions): Promise<void> {
  const top = path.basename(tree.top);
  const common = [`--format=${options.format}`, '--sort=name', '--numeric-owner'];
  if (options.nestedHome) {
    const homedir = path.join(tree.top, 'homedir');
    await run('tar', ['-cf', path.join(tree.top, 'homedir.tar'), ...common, '-C', homedir, 'mail', 'etc', '.autorespond', 'public_html', 'www']);
    const aside = path.join(tree.parent, 'homedir.aside');
    await rename(homedir, aside);
    try {
      await run('tar', [options.gzip ? '-czf' : '-cf', out, ...common, '-C', tree.parent, `${top}/homedir.tar`, `${top}/cp`, `${top}/va`]);
    } finally {
      await rename(aside, homedir);
      await rm(path.join(tree.top, 'homedir.tar'));
    }
    return;
  }
  await run('tar', [
    options.gzip ? '-czf' : '-cf',
    out,
    ...common,
    '-C',
    tree.parent,
    `${top}/homedir/mail`,
    `${top}/homedir/etc`,
    `${top}/homedir/.autorespond`,
    `${top}/homedir/public_html`,
    `${top}/homedir/www`,
    `${top}/cp`,
    `${top}/va`,
  ]);
}

/** A file with a hole, which GNU tar --sparse stores as a sparse entry. */
export async function writeSparseFile(file: string): Promise<void> {
  await writeFile(file, '');
  await run('truncate', ['-s', '1M', file]);
  await run('sh', ['-c', 'printf tail >> "$1"', 'sh', file]);
}

export interface HostileEntry {
  readonly name: string;
  readonly type: 'file' | 'symlink' | 'character-device' | 'fifo' | 'link';
  readonly content?: string;
  readonly linkname?: string;
}

/**
 * A hostile backup, written by tar-stream because GNU tar refuses to store most of it: names that climb out, an
 * absolute name, a NUL byte in a pax path, a symlink out of the account, a device and a fifo, beside one honest
 * message.
 */
export function hostileEntries(outside: string): HostileEntry[] {
  const alice = 'cpmove-bob/homedir/mail/example.com/alice';
  return [
    { name: `${alice}/cur/1700000001.M1P1.host,S=80:2,S`, type: 'file', content: message('ok', 'the honest one') },
    { name: '../climb-out', type: 'file', content: 'escaped' },
    { name: `${alice}/cur/../../../../../../climb-deep`, type: 'file', content: 'escaped' },
    { name: `${outside}/absolute`, type: 'file', content: 'escaped' },
    // Long enough to need a pax path, the only place a NUL byte survives (a ustar name ends at the first NUL).
    { name: `${alice}/cur/nul\u0000${'x'.repeat(160)}:2,S`, type: 'file', content: 'nul' },
    { name: `${alice}/.Evil`, type: 'symlink', linkname: outside },
    { name: `${alice}/.Evil/cur/through-the-link:2,S`, type: 'file', content: message('evil', 'through the link') },
    { name: `${alice}/cur/1700000009.M9P1.host:2,S`, type: 'link', linkname: '/etc/passwd' },
    { name: `${alice}/cur/device`, type: 'character-device' },
    { name: `${alice}/cur/fifo`, type: 'fifo' },
  ];
}

/** Writes hostileEntries(outside) into a tar file `file` (tar-stream: GNU tar would refuse to store them). */
export async function writeHostileArchive(file: string, outside: string): Promise<void> {
  const pack = tarStream.pack();
  const done = pipeline(pack, createWriteStream(file));
  for (const entry of hostileEntries(outside)) {
    const header = { name: entry.name, type: entry.type, mode: 0o644, mtime: new Date(1700000000000), ...(entry.linkname ? { linkname: entry.linkname } : {}) };
    if (entry.type === 'file') pack.entry(header, entry.content ?? '');
    else pack.entry(header);
  }
  pack.finalize();
  await done;
}
