import { constants as fsConstants } from 'node:fs';
import { link, lstat, open, unlink } from 'node:fs/promises';
import path from 'node:path';
import { MailshiftError, systemErrorCode, UsageError } from '../core/errors.js';
import { ExitCode, type ExitCodeValue } from '../core/exit-codes.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { isCpanelMailboxLink } from '../cpanel/inventory/parse.js';
import { accountHomeItems, domainRoutingTables, isSafeDomain } from '../cpanel/layout.js';
import { readCpanelAccountDomains, resolveCpanelHome, resolveCpanelMailbox } from '../cpanel/resolve.js';
import { checkNameSegment } from '../cpanel/unsafe.js';
import { openFileSide } from '../hosts/open.js';
import { formatSpec, type StoreSpec } from '../stores/spec.js';
import { readDirectoryEntries } from './directory.js';
import { buildMailboxEntryPrefix } from './export-layout.js';
import { writeStoreMailbox, type StoreExportSource } from './export-store.js';
import { classifyMailPath, isCpanelUserName } from './names.js';
import type { SkippedEntry } from './restore.js';
import { PaxWriter } from './tar.js';

/**
 * `mailshift export`: mail on this machine written into a pax tar in cPanel's backup layout, so that mailshift's
 * restore, GNU tar and cPanel's own restorepkg can read it (campaigns-archives-scaleout.md §C.5 point 9):
 *
 *   a cPanel account  ->  cpmove-USER/homedir/mail/..., homedir/etc/..., the home's mail extras, cp/USER, va|vad|vf/D
 *   one maildir       ->  cpmove-USER/homedir/mail/DOMAIN/LOCAL/...   (the address given with the export)
 *   a store (IMAP)    ->  cpmove-USER/homedir/mail/DOMAIN/LOCAL/...   streamed message by message (export-store.ts)
 *
 * Every entry carries a pax record (long UTF-8 names, sub-second mtimes); a file with several names in the tree is
 * stored once and its other names as hard-link entries. Dovecot's regenerable indexes and half-delivered tmp/ files
 * are left out; symlinks are never followed (cPanel's webmail links are left out, any other is listed). The archive
 * is written under a temporary name and linked into place only when complete, never over an existing file.
 */

export type ExportSource =
  | { readonly kind: 'cpanel'; readonly root: string; readonly home: string; readonly user: string; readonly domains: readonly string[] }
  | { readonly kind: 'maildir'; readonly path: string; readonly user: string; readonly mailbox: ExportMailbox }
  /** An account read through the store interface (IMAP), its messages streamed into the archive: no copy on disk. */
  | { readonly kind: 'store'; readonly read: Omit<StoreExportSource, 'prefix'>; readonly user: string; readonly mailbox: ExportMailbox };

export interface ExportMailbox {
  readonly localPart: string;
  readonly domain: string;
}

export interface ExportReport {
  readonly archive: string;
  readonly files: number;
  readonly links: number;
  readonly bytes: number;
  readonly skipped: SkippedEntry[];
  readonly exitCode: ExitCodeValue;
}

export async function runExport(source: ExportSource, archive: string, options: { readonly signal?: AbortSignal; readonly logger?: Logger } = {}): Promise<ExportReport> {
  const logger = options.logger ?? silentLogger;
  if (await exists(archive)) {
    throw new MailshiftError('MAILSHIFT_ARCHIVE_TARGET', `${archive} exists already; an export never writes over a file`, { hint: 'choose a new file name', exitCode: ExitCode.usage });
  }
  const partial = `${archive}.partial-${process.pid}`;
  const handle = await open(partial, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
  // Through the FileHandle, which the stream closes with itself (a bare fd left the handle to the garbage collector).
  const out = handle.createWriteStream();
  const writer = new PaxWriter(out, /\.(tgz|gz)$/.test(archive));
  const counts = { files: 0, links: 0, bytes: 0 };
  const skipped: SkippedEntry[] = [];
  const top = `cpmove-${source.user}`;
  const written = new Set<string>();

  /** Writes the tree under `dir` as `prefix/...`; `keep` decides, by the path relative to `dir`, what goes in. */
  const addTree = async (dir: string, prefix: string, keep: (rel: string) => boolean) => {
    if (!(await exists(dir))) return;
    await readDirectoryEntries(
      dir,
      async (entry) => {
        if (!keep(entry.name)) return;
        const name = `${prefix}/${entry.name}`;
        const mode = entry.type === 'directory' ? 0o755 : 0o600;
        switch (entry.type) {
          case 'directory':
            await writer.add({ name: `${name}/`, type: 'directory', mode, mtimeSec: entry.mtimeSec });
            return;
          case 'file':
            await writer.add({ name, type: 'file', size: entry.size, mode, mtimeSec: entry.mtimeSec }, entry.body);
            written.add(name);
            counts.files += 1;
            counts.bytes += entry.size;
            return;
          case 'link': {
            const target = `${prefix}/${entry.linkname ?? ''}`;
            if (!written.has(target)) return;
            await writer.add({ name, type: 'link', linkname: target, mode, mtimeSec: entry.mtimeSec });
            counts.links += 1;
            return;
          }
          case 'symlink':
            if (!isCpanelMailboxLink(path.posix.basename(entry.name), entry.linkname ?? '')) skipped.push({ item: path.join(dir, entry.name), reason: `symlink to ${entry.linkname ?? ''}: not followed, not exported` });
            return;
          default:
            skipped.push({ item: path.join(dir, entry.name), reason: `${entry.type}: not a file; not exported` });
        }
      },
      async () => undefined,
      options.signal,
    );
  };
  /** Dovecot's indexes are rebuilt by the server that reads the mail; a file in tmp/ is not delivered yet. */
  const keepMail = (rel: string) => {
    const kind = classifyMailPath(rel.split('/')).kind;
    return kind !== 'index' && kind !== 'tmp-file';
  };
  /** One file of the home (a flag file, .cpanel/filter.yaml), never through a link. */
  const addFile = async (abs: string, name: string) => {
    const stats = await lstat(abs);
    const file = await open(abs, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    await writer.add({ name, type: 'file', size: stats.size, mode: 0o600, mtimeSec: stats.mtimeMs / 1000 }, file.createReadStream());
    counts.files += 1;
    counts.bytes += stats.size;
  };

  try {
    if (source.kind === 'maildir') {
      const box = `${source.mailbox.domain}/${source.mailbox.localPart}`;
      await addTree(source.path, buildMailboxEntryPrefix(source.user, source.mailbox), (rel) => keepMail(`${box}/${rel}`));
    } else if (source.kind === 'store') {
      const outcome = await writeStoreMailbox(writer, { ...source.read, prefix: buildMailboxEntryPrefix(source.user, source.mailbox) }, { ...(options.signal ? { signal: options.signal } : {}), logger });
      counts.files += outcome.files;
      counts.bytes += outcome.bytes;
      skipped.push(...outcome.skipped);
      for (const each of outcome.skipped) logger.warn(`not exported: ${each.item}: ${each.reason}`);
      if (outcome.unread.length > 0) {
        // A backup that lacks mail must never pass for a complete one: nothing is left under the archive's name (the
        // partial file is removed below), and every message or folder missing is listed first.
        for (const each of outcome.unread) logger.warn(`could not read ${each.item}: ${each.reason}`);
        throw new ExportIncompleteError(source.read.label, outcome.unread);
      }
      logger.info(`exported ${outcome.messages} messages from ${source.read.label}`);
    } else {
      await addTree(path.join(source.home, 'mail'), `${top}/homedir/mail`, keepMail);
      for (const item of accountHomeItems) {
        const abs = path.join(source.home, item);
        const stats = await lstat(abs).catch(() => undefined);
        if (!stats) continue;
        if (stats.isDirectory()) await addTree(abs, `${top}/homedir/${item}`, () => true);
        else if (stats.isFile()) await addFile(abs, `${top}/homedir/${item}`);
        else if (stats.isSymbolicLink()) skipped.push({ item: abs, reason: 'symlink: not followed, not exported' });
      }
      await addTree(path.join(source.root, 'var/cpanel/users'), `${top}/cp`, (rel) => rel === source.user);
      const short = { valiases: 'va', vdomainaliases: 'vad', vfilters: 'vf' } as const;
      for (const table of domainRoutingTables) {
        const domains = new Set(source.domains.filter(isSafeDomain));
        await addTree(path.join(source.root, 'etc', table), `${top}/${short[table]}`, (rel) => domains.has(rel));
      }
    }
    await writer.finish();
  } catch (err) {
    out.destroy();
    await unlink(partial).catch(() => undefined);
    throw err;
  }
  try {
    await link(partial, archive);
  } catch (err) {
    await unlink(partial).catch(() => undefined);
    if (systemErrorCode(err) === 'EEXIST') throw new MailshiftError('MAILSHIFT_ARCHIVE_TARGET', `${archive} appeared while the export ran; it was left as it is`, { hint: 'choose a new file name', exitCode: ExitCode.usage });
    throw err;
  }
  await unlink(partial);
  logger.info(`exported ${counts.files} files and ${counts.links} hard links into ${archive}`);
  return { archive, ...counts, skipped, exitCode: skipped.length > 0 ? ExitCode.partial : ExitCode.ok };
}

/**
 * An export that could not read everything: no archive was written. `--json` carries the list (`skipped`, as the
 * document of a finished export does), not only the count.
 */
export class ExportIncompleteError extends MailshiftError {
  constructor(
    label: string,
    readonly missing: readonly SkippedEntry[],
  ) {
    super('MAILSHIFT_EXPORT_INCOMPLETE', `${label}: ${missing.length} message(s) or folder(s) could not be read (listed above); no archive was written`, {
      scope: 'account',
      hint: 'each one is listed above with its reason; once the server serves them, run the same export again. To keep what can be read: mailshift copy SOURCE MAILDIR (it copies the rest and lists what it cannot), then mailshift export MAILDIR ARCHIVE --mailbox local@domain',
      // 3 also when the reason was a connection that kept breaking: after the retries, with the same message at fault
      // every time, that is how Dovecot answers a message it cannot read (BYE), not a passing outage.
      exitCode: ExitCode.partial,
    });
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), skipped: this.missing };
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * What an export reads, from the spec as typed: a local cPanel account (or one of its mailboxes), or a local maildir
 * named as a mailbox (`--mailbox local@domain`, which places it in the backup; `--user` names the account, by
 * default the local part). An IMAP account needs a login first: the command opens it and builds a 'store' source.
 */
export async function resolveExportSource(spec: StoreSpec, options: { readonly mailbox?: string; readonly user?: string }): Promise<ExportSource> {
  const side = openFileSide({ type: 'local' });
  if (spec.kind === 'cpanel' && spec.location.type === 'local') {
    if (spec.mailbox) {
      const found = await resolveCpanelMailbox(side, spec.root, spec.mailbox, 'source');
      return { kind: 'maildir', path: found.path, user: found.user, mailbox: spec.mailbox };
    }
    const { home } = await resolveCpanelHome(side, spec.root, spec.user);
    return { kind: 'cpanel', root: spec.root, home, user: spec.user, domains: await readCpanelAccountDomains(side, spec.root, spec.user, home) };
  }
  if ((spec.kind === 'path' || spec.kind === 'maildir') && spec.location.type === 'local') {
    return { kind: 'maildir', path: spec.path, ...resolveExportNaming(`${formatSpec(spec)} is one maildir`, options) };
  }
  throw new UsageError(`${formatSpec(spec)}: export reads a local maildir, a local cPanel account or an IMAP account`, 'for a remote tree: copy it into a local maildir first (mailshift copy), then export that');
}

/**
 * Which mailbox of which cPanel account a maildir or an IMAP account is in the backup: `--mailbox local@domain`
 * (for an IMAP account, its login by default when that is an address) and `--user USER` (default: the local part).
 */
export function resolveExportNaming(what: string, options: { readonly mailbox?: string; readonly user?: string }): { user: string; mailbox: ExportMailbox } {
  const at = options.mailbox?.lastIndexOf('@') ?? -1;
  if (!options.mailbox || at <= 0) {
    throw new UsageError(`${what}: say which mailbox it is in the backup`, 'add --mailbox local@domain (and --user USER for the cPanel account it belongs to)');
  }
  const localPart = options.mailbox.slice(0, at);
  const domain = options.mailbox.slice(at + 1).toLowerCase();
  if (!isSafeDomain(domain) || checkNameSegment(localPart)) throw new UsageError(`--mailbox ${options.mailbox} is not an address that can name a directory`);
  const user = options.user ?? localPart;
  if (!isCpanelUserName(user)) throw new UsageError(`"${user}" is not a cPanel user name`, 'add --user USER (letters, digits, "_" and "-")');
  return { user, mailbox: { localPart, domain } };
}
