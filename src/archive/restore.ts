import path from 'node:path';
import { MailshiftError } from '../core/errors.js';
import { ExitCode, type ExitCodeValue } from '../core/exit-codes.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { accountHomeItems, mergedDomainFiles } from '../cpanel/layout.js';
import { isCpanelMailboxLink } from '../cpanel/inventory/parse.js';
import { MaildirTreeWriter } from './maildir-writer.js';
import { correctCounts } from './flush-counts.js';
import type { ControlFileOutcome, MessageOutcome, RestoreWriter } from './restore-writer.js';
import { classifyMailPath, classifyMember, describeMailbox, parseBackupFileName, parseEntryName, topDirOf, type MailItem } from './names.js';
import { readBackupEntries, type BackupSource } from './source.js';
import type { ArchiveEntry, EntryBody } from './tar.js';

/**
 * Restores the mail of a cPanel backup (a cpmove archive, gzipped or not) straight into a local target, in one pass
 * over the archive, never extracting it first (campaigns-archives-scaleout.md §C.5):
 *
 * - Messages go into the target's maildirs as they stream past (MaildirTreeWriter: tmp/, mtime, link into cur/
 *   without replacing anything; a base name the target has is not written twice).
 * - A hard link (Dovecot's copies between folders) is linked to the message already restored, or copied; when its
 *   first copy lies in a mailbox that was not selected, a second pass over the archive fetches just those bodies.
 * - Entries come in any order (etc/ may follow mail/): the account's small files (etc/DOMAIN/passwd, shadow, quota,
 *   cp/USER, va/vad/vf) are held in memory and applied at the end (account-files.ts), with the control files.
 * - Refused and listed, never written: absolute names, "..", NUL, symlinks (recorded, never created), devices,
 *   fifos, sparse and unknown entries; an mdbox mailbox is listed as not restorable without Dovecot.
 */

export type RestoreTarget =
  | { readonly kind: 'cpanel-home'; readonly home: string; readonly label: string }
  | { readonly kind: 'maildir'; readonly path: string; readonly label: string };

export interface RestoreOptions {
  readonly target: RestoreTarget;
  /** Only this mailbox (`DOMAIN/LOCAL`); absent: the whole account. */
  readonly mailbox?: string;
  readonly dryRun?: boolean;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  /**
   * Where the files go when not into local trees (an ssh host: operation.ts builds RemoteTreeWriters): `mail` for
   * the maildirs (the target maildir, or the account's ~/mail), `home` for a whole account's home extras.
   */
  readonly writers?: { readonly mail: RestoreWriter; readonly home?: RestoreWriter };
  /** Messages placed so far (written, linked or found there) and the bytes written, after each message. */
  readonly onProgress?: (done: { readonly items: number; readonly bytes: number }) => void;
}

export interface SkippedEntry {
  readonly item: string;
  readonly reason: string;
}

export interface MailboxCounts {
  readonly mailbox: string;
  written: number;
  linked: number;
  existing: number;
  bytes: number;
}

/** The small account files, as read from the archive, for the account-files step. */
export interface HeldAccountFiles {
  /** DOMAIN -> file name (passwd, shadow, quota) -> text. */
  readonly domainTables: Map<string, Map<string, string>>;
  /** valiases|vdomainaliases|vfilters -> DOMAIN -> text. */
  readonly routing: Map<string, Map<string, string>>;
  cpuser?: { readonly user: string; readonly text: string };
  homedirPaths?: string;
}

/** A message a dry run would add: its mailbox (DOMAIN/LOCAL, or '' for the default one), folder and file name. */
export interface WouldAdd {
  readonly mailbox: string;
  /** The folder's directory in the tree written into ('' for a maildir's INBOX). */
  readonly folder: string;
  readonly name: string;
}

/** A dry run names at most this many of the messages it would add (a verify lists what is missing); the rest are counted. */
export const maxNamedWouldAdd = 1000;

export interface RestoreReport {
  readonly archive: string;
  readonly target: string;
  /** The archive's cPanel user (from cp/USER, its top directory or its file name). */
  readonly user: string | undefined;
  readonly dryRun: boolean;
  readonly mailboxes: MailboxCounts[];
  /** Messages written from the archive's bytes, hard links made (or copies where links cannot be), already on the target. */
  readonly totals: { written: number; linked: number; existing: number; bytes: number };
  readonly controlFiles: ControlFileOutcome[];
  /** Home items (autoresponders, filters, SpamAssassin...) written, and those the target had already (kept). */
  readonly extras: { written: string[]; keptTarget: string[] };
  readonly skipped: SkippedEntry[];
  readonly notices: string[];
  /** Entries of the backup that are not mail (web files, databases, logs): read past, not restored. */
  readonly notMail: number;
  /** A dry run: the messages it would add, the first maxNamedWouldAdd of them (empty when not a dry run). */
  readonly wouldAdd: WouldAdd[];
  /** A dry run: how many more it would add than wouldAdd names. */
  readonly wouldAddUnnamed: number;
  readonly exitCode: ExitCodeValue;
}

/**
 * The report, and apart from it the account files held for the last step: they carry password hashes (shadow),
 * which never go into a report, a log or --json.
 */
export interface RestoreResult {
  readonly report: RestoreReport;
  readonly held: HeldAccountFiles;
}

/** What the first pass leaves for the second: a hard link whose first copy was not restored. */
interface PendingLink {
  readonly destination: { readonly folder: string; readonly sub: 'cur' | 'new'; readonly name: string; readonly mailbox: string };
  readonly mtimeSec: number;
}

const maxHeldBytes = 16 * 1024 * 1024;

export async function runArchiveRestore(source: BackupSource, options: RestoreOptions): Promise<RestoreResult> {
  const archive = source.path;
  const logger = options.logger ?? silentLogger;
  const dryRun = options.dryRun ?? false;
  const root = options.target.kind === 'maildir' ? options.target.path : path.join(options.target.home, 'mail');
  const writer: RestoreWriter = options.writers?.mail ?? new MaildirTreeWriter(root, { dryRun, dirMode: 0o751 });
  const homeWriter: RestoreWriter | undefined =
    options.target.kind !== 'cpanel-home' ? undefined : (options.writers?.home ?? new MaildirTreeWriter(options.target.home, { dryRun, dirMode: 0o751 }));
  const skipped: SkippedEntry[] = [];
  const notices: string[] = [];
  const extras = { written: [] as string[], keptTarget: [] as string[] };
  const held: HeldAccountFiles = { domainTables: new Map(), routing: new Map() };
  const counts = new Map<string, MailboxCounts>();
  /** Folder (relative to the tree written into) -> its mailbox, for what a flush found already there. */
  const mailboxOfFolder = new Map<string, string>();
  const mdboxMailboxes = new Set<string>();
  const seenMailboxes = new Set<string>();
  /** Member path (homedir/mail/...) of a message entry that was refused or not restored: a link to it cannot be made. */
  const unrestorable = new Set<string>();
  /** Member path of a first copy in an unselected mailbox -> the links waiting for its bytes. */
  const pending = new Map<string, PendingLink[]>();
  const blocked = new Set<string>();
  let topDir: string | undefined;
  let notMail = 0;

  const countsOf = (mailbox: string): MailboxCounts => {
    let c = counts.get(mailbox);
    if (!c) {
      c = { mailbox, written: 0, linked: 0, existing: 0, bytes: 0 };
      counts.set(mailbox, c);
    }
    return c;
  };
  const progress = { items: 0, bytes: 0 };
  const wouldAdd: WouldAdd[] = [];
  let wouldAddUnnamed = 0;
  const tally = (mailbox: string, outcome: MessageOutcome, bytes: number, placed: { folder: string; name: string }) => {
    const c = countsOf(mailbox);
    if (dryRun && outcome !== 'exists') {
      if (wouldAdd.length < maxNamedWouldAdd) wouldAdd.push({ mailbox, folder: placed.folder, name: placed.name });
      else wouldAddUnnamed += 1;
    }
    if (outcome === 'exists') c.existing += 1;
    else if (outcome === 'written') {
      c.written += 1;
      c.bytes += bytes;
      progress.bytes += bytes;
    } else c.linked += 1;
    progress.items += 1;
    options.onProgress?.(progress);
  };
  /** The home's mail extras (autoresponders, filters, SpamAssassin, webmail data): restored with a whole account. */
  const isRestoredHomeItem = (rel: string) => options.mailbox === undefined && accountHomeItems.some((item) => rel === item || rel.startsWith(`${item}/`));
  const isSelected = (mailbox: string) => options.mailbox === undefined || options.mailbox === mailbox;
  /** The directory of a mail item's folder, relative to the tree written into. */
  const folderRel = (item: { mailbox: string; folder: string }) =>
    options.target.kind === 'maildir' ? item.folder : path.join(item.mailbox, item.folder);

  const visit = async (entry: ArchiveEntry): Promise<'read-nested' | void> => {
    if (!entry.nested && topDir === undefined) topDir = topDirOf(entry.name);
    const name = parseEntryName(entry.name, { nested: entry.nested });
    if (!name.ok) {
      skipped.push({ item: printable(entry.name), reason: `${name.refusal}: ${name.detail}; not written` });
      return;
    }
    const member = classifyMember(name.parts);
    const memberPath = name.parts.join('/');
    if (member.kind === 'nested-home' && entry.type === 'file') return 'read-nested';
    if (entry.type === 'device' || entry.type === 'fifo' || entry.type === 'unsupported') {
      const what = entry.type === 'unsupported' ? 'sparse or unknown entry type' : entry.type;
      skipped.push({ item: memberPath, reason: `tar-unsupported-entry: ${what}; not written` });
      if (member.kind === 'mail') unrestorable.add(memberPath);
      return;
    }
    if (entry.type === 'symlink') {
      if (member.kind === 'mail' && member.rest.length === 1 && isCpanelMailboxLink(member.rest[0]!, entry.linkname ?? '')) {
        notices.push(`${memberPath}: cPanel's webmail link to a mailbox; not created (cPanel makes it again)`);
      } else if (member.kind === 'mail' || (member.kind === 'home' && isRestoredHomeItem(member.rest.join('/')))) {
        skipped.push({ item: memberPath, reason: `symlink to ${printable(entry.linkname ?? '')}: recorded, never created or followed` });
      } else notMail += 1; // e.g. cPanel's www -> public_html: not mail, not restored, nothing to report
      return;
    }
    switch (member.kind) {
      case 'mail':
      case 'home':
        try {
          return await (member.kind === 'mail' ? visitMail(entry, memberPath, classifyMailPath(member.rest)) : visitHome(entry, member.rest));
        } catch (err) {
          // A link or a file where the target needs a directory: that item is left out and listed, the rest goes on.
          if (!(err instanceof MailshiftError) || err.code !== 'MAILSHIFT_TARGET_NOT_DIR') throw err;
          // Listed once per blocked directory: every entry under it fails the same way.
          const reason = `target-not-directory: ${err.message}; nothing under it is restored`;
          if (!blocked.has(reason)) skipped.push({ item: memberPath, reason });
          blocked.add(reason);
          if (member.kind === 'mail') unrestorable.add(memberPath);
          return;
        }
      case 'cpuser':
        if (entry.type === 'file') held.cpuser = { user: member.user, text: await readHeld(entry.body, memberPath) };
        return;
      case 'routing':
        if (entry.type === 'file') mapOf(held.routing, member.table).set(member.domain, await readHeld(entry.body, memberPath));
        return;
      case 'homedir-paths':
        if (entry.type === 'file') held.homedirPaths = await readHeld(entry.body, memberPath);
        return;
      default:
        if (entry.type !== 'directory') notMail += 1;
        return;
    }
  };

  const visitMail = async (entry: ArchiveEntry, memberPath: string, item: MailItem): Promise<void> => {
    if (item.kind === 'format-marker' || item.kind === 'index' || item.kind === 'tmp-file') return;
    if (item.kind === 'mdbox') {
      mdboxMailboxes.add(item.mailbox);
      return;
    }
    seenMailboxes.add(item.mailbox);
    if (item.kind === 'other') {
      if (entry.type !== 'directory' || item.problem) {
        skipped.push({ item: memberPath, reason: item.problem ? `unsafe-name: ${item.problem}; not written` : 'not part of a maildir; not restored' });
      }
      if (entry.type !== 'directory') unrestorable.add(memberPath);
      return;
    }
    if (!isSelected(item.mailbox)) {
      if (item.kind === 'message') unrestorable.add(memberPath);
      return;
    }
    if (item.kind === 'maildir-dir') {
      if (entry.type === 'directory' && item.sub !== undefined) await writer.openFolder(folderRel(item));
      else if (entry.type !== 'directory') skipped.push({ item: memberPath, reason: `a ${entry.type} where a maildir has a directory; not restored` });
      return;
    }
    if (item.kind === 'control') {
      if (entry.type !== 'file') return;
      if (item.name === 'maildirfolder') await writer.openFolder(folderRel(item));
      if (item.name === 'maildirfolder') return void (await writer.writeIfAbsent(path.join(folderRel(item), 'maildirfolder'), entry.body, entry.mtimeSec));
      return writer.stageControlFile(folderRel(item), item.name, entry.body);
    }
    // A message.
    const folder = folderRel(item);
    mailboxOfFolder.set(folder, item.mailbox);
    if (entry.type === 'file') {
      tally(item.mailbox, await writer.writeMessage(folder, item.sub, item.name, entry.body, entry.mtimeSec, entry.size), entry.size, { folder, name: item.name });
      return;
    }
    if (entry.type !== 'link') {
      skipped.push({ item: memberPath, reason: `a ${entry.type} where a maildir has a message file; not restored` });
      return;
    }
    const source = resolveLinkSource(entry.linkname ?? '', entry.nested);
    if (!source) {
      skipped.push({ item: memberPath, reason: `hardlink-target-missing: links to ${printable(entry.linkname ?? '')}, which this backup does not restore; not written` });
      return;
    }
    if (source.kind === 'restored') {
      tally(item.mailbox, await writer.linkMessage(folder, item.sub, item.name, source.path, entry.mtimeSec), 0, { folder, name: item.name });
      return;
    }
    const waiting = pending.get(source.member) ?? [];
    waiting.push({ destination: { folder, sub: item.sub, name: item.name, mailbox: item.mailbox }, mtimeSec: entry.mtimeSec });
    pending.set(source.member, waiting);
  };

  /** Where the first copy of a hard-linked message is: on the target already, or in an unselected mailbox. */
  const resolveLinkSource = (linkname: string, nested: boolean): { kind: 'restored'; path: string } | { kind: 'pending'; member: string } | undefined => {
    const parsed = parseEntryName(linkname, { nested });
    if (!parsed.ok) return undefined;
    const member = classifyMember(parsed.parts);
    if (member.kind !== 'mail') return undefined;
    const memberPath = parsed.parts.join('/');
    const item = classifyMailPath(member.rest);
    if (item.kind !== 'message' || unrestorable.has(memberPath) && isSelected(item.mailbox)) return undefined;
    if (!isSelected(item.mailbox)) return unrestorable.has(memberPath) ? { kind: 'pending', member: memberPath } : undefined;
    const found = writer.findMessage(folderRel(item), item.name);
    return found ? { kind: 'restored', path: found } : undefined;
  };

  const visitHome = async (entry: ArchiveEntry, rest: readonly string[]): Promise<void> => {
    const rel = rest.join('/');
    if (rest[0] === 'etc' && rest.length === 3 && (mergedDomainFiles as readonly string[]).includes(rest[2]!)) {
      if (entry.type === 'file') mapOf(held.domainTables, rest[1]!).set(rest[2]!, await readHeld(entry.body, `homedir/${rel}`));
      return;
    }
    if (!isRestoredHomeItem(rel) || !homeWriter) {
      if (entry.type !== 'directory') notMail += 1;
      return;
    }
    if (entry.type === 'directory') {
      await homeWriter.ensureDir(rel);
      return;
    }
    if (entry.type !== 'file') {
      skipped.push({ item: `homedir/${rel}`, reason: `${entry.type === 'link' ? 'hard link' : entry.type} among the account's files; not written` });
      return;
    }
    if (await homeWriter.writeIfAbsent(rel, entry.body, entry.mtimeSec)) extras.written.push(rel);
    else extras.keptTarget.push(rel);
  };

  logger.info(`restoring ${archive}${options.mailbox ? ` (${options.mailbox})` : ''} into ${options.target.label}${dryRun ? ' (dry run)' : ''}`);
  await readBackupEntries(source, visit, options.signal);

  if (pending.size > 0) {
    // Second pass: the first copies of hard links whose folder was not selected, fetched by name and nothing else.
    logger.info(`second pass over ${archive}: ${pending.size} linked message(s) whose first copy is in another mailbox`);
    await readBackupEntries(source, async (entry) => {
      const name = parseEntryName(entry.name, { nested: entry.nested });
      if (!name.ok) return;
      if (classifyMember(name.parts).kind === 'nested-home' && entry.type === 'file') return 'read-nested';
      const waiting = pending.get(name.parts.join('/'));
      if (!waiting || entry.type !== 'file') return;
      pending.delete(name.parts.join('/'));
      const [first, ...others] = waiting;
      try {
        tally(first!.destination.mailbox, await writer.writeMessage(first!.destination.folder, first!.destination.sub, first!.destination.name, entry.body, entry.mtimeSec, entry.size), entry.size, first!.destination);
        const from = writer.findMessage(first!.destination.folder, first!.destination.name);
        for (const other of others) {
          if (from) tally(other.destination.mailbox, await writer.linkMessage(other.destination.folder, other.destination.sub, other.destination.name, from, other.mtimeSec), 0, other.destination);
        }
      } catch (err) {
        // The folder's directory is a link or a file on the target: listed once already by the first pass.
        if (!(err instanceof MailshiftError) || err.code !== 'MAILSHIFT_TARGET_NOT_DIR') throw err;
        const reason = `target-not-directory: ${err.message}; nothing under it is restored`;
        if (!blocked.has(reason)) skipped.push({ item: name.parts.join('/'), reason });
        blocked.add(reason);
      }
    }, options.signal);
    for (const [member, waiting] of pending) {
      for (const w of waiting) skipped.push({ item: path.join(w.destination.folder, w.destination.sub, w.destination.name), reason: `hardlink-target-missing: its first copy ${member} was not found; not written` });
    }
  }

  correctCounts(await writer.flush(), { mailRoot: writer.root, homeRoot: homeWriter?.root, mailboxOfFolder, counts, extras, skipped });
  const controlFiles = await writer.settleControlFiles();
  for (const c of controlFiles) if (c.action === 'keep-target') logger.warn(`${c.path}: kept the target's version: ${c.reason}`);

  const user = held.cpuser?.user ?? (topDir ? parseBackupFileName(topDir) : undefined) ?? parseBackupFileName(archive);
  for (const mailbox of [...mdboxMailboxes].sort()) {
    if (!isSelected(mailbox)) continue;
    skipped.push({
      item: describeMailbox(mailbox, user ?? 'the account'),
      reason: 'unsupported-format:mdbox: an mdbox mailbox is not restorable without Dovecot; restore the backup with cPanel, or convert it (doveadm backup) and copy over IMAP',
    });
  }
  if (options.mailbox !== undefined && !seenMailboxes.has(options.mailbox) && !mdboxMailboxes.has(options.mailbox)) {
    const found = [...seenMailboxes].filter((m) => m !== '').map((m) => describeMailbox(m, '')).sort();
    throw new MailshiftError('MAILSHIFT_ARCHIVE_NO_MAILBOX', `${archive} holds no mailbox ${describeMailbox(options.mailbox, '')}`, {
      hint: `mailboxes in this backup: ${found.slice(0, 20).join(', ') || 'none'}`,
      exitCode: ExitCode.usage,
    });
  }

  const mailboxes = [...counts.values()].sort((a, b) => (a.mailbox < b.mailbox ? -1 : a.mailbox > b.mailbox ? 1 : 0));
  const totals = mailboxes.reduce(
    (t, m) => ({ written: t.written + m.written, linked: t.linked + m.linked, existing: t.existing + m.existing, bytes: t.bytes + m.bytes }),
    { written: 0, linked: 0, existing: 0, bytes: 0 },
  );
  const report: RestoreReport = {
    archive,
    target: options.target.label,
    user,
    dryRun,
    mailboxes,
    totals,
    controlFiles,
    extras,
    skipped,
    notices,
    notMail,
    wouldAdd,
    wouldAddUnnamed,
    exitCode: skipped.length > 0 ? ExitCode.partial : ExitCode.ok,
  };
  return { report, held };
}

async function readHeld(body: EntryBody, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    length += (chunk as Buffer).length;
    if (length > maxHeldBytes) {
      throw new MailshiftError('MAILSHIFT_ARCHIVE_CORRUPT', `${what} is larger than ${maxHeldBytes} bytes, which no account file is`, { hint: 'check the backup; it is not a cPanel backup as mailshift knows it', exitCode: ExitCode.failed });
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function mapOf<V>(outer: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let inner = outer.get(key);
  if (!inner) {
    inner = new Map();
    outer.set(key, inner);
  }
  return inner;
}

/** Names from a hostile archive go into reports: control characters are shown escaped, never sent to a terminal. */
function printable(name: string): string {
  return JSON.stringify(name).slice(1, -1);
}
