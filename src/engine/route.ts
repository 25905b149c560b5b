/**
 * The one place where mailshift decides how mail moves between two ends, for every command that moves or compares it
 * (copy, resync, watch, verify). Two engines, named for what they move:
 *
 *   files     rsync moves the files of a maildir tree or a cPanel account as they are (flags in file names, hard
 *             links, dovecot-uidlist, owners); resync matches by maildir base name; verify compares file by file.
 *   messages  one message at a time through the store interface (IMAP, mbox, maildir), with a UID watermark.
 *   archive   a cPanel backup (cpmove tar) read once, start to end, its messages written straight into the
 *             target's maildirs (src/archive/): no extraction to disk first, no rsync.
 *
 * Pure: the decision is made from what each end is (EndFacts, found by engine/ends.ts) and never from the text the
 * user typed. It carries its reason, which is logged, printed by --dry-run and put in --json as `route`.
 */

export type Operation = 'copy' | 'resync' | 'watch' | 'verify';

/** The layouts a file tree can hold, as the probe saw them. */
export type FileLayout = 'maildir' | 'cpanel' | 'mbox' | 'dbox' | 'archive';

/** What one end is, as far as the route is concerned. */
export interface EndFacts {
  /** The spec as shown to people (formatSpec: never a password). */
  readonly label: string;
  /** Present when the end is a file tree rsync could reach: where, and what it holds. Absent for IMAP. */
  readonly files?: {
    readonly location: 'local' | 'ssh';
    readonly layout: FileLayout;
    /** The probe's words for what it found (a dbox store's reason, "an empty file" where mbox was expected). */
    readonly detail?: string;
  };
}

/**
 * What `--imap-fallback` decided, with its reason either way; copy and resync put it in the --json report
 * (`fallback`) and print it, so "why IMAP" and "why not" are both on record.
 */
export interface FallbackDecision {
  readonly used: boolean;
  /** The --imap-fallback URL as given (user@host, never a password: the spec parser refuses one). */
  readonly imap: string;
  readonly reason: string;
}

/** The STYLE.md decision shape: which engine, and why. */
export interface Route {
  readonly use: 'files' | 'messages' | 'archive';
  readonly reason: string;
  readonly fallback?: FallbackDecision;
}

/** An end the operation cannot work on, with what to do instead. */
export interface RouteRefusal {
  readonly refuse: true;
  readonly code: 'MAILSHIFT_USAGE' | 'MAILSHIFT_SOURCE_DBOX';
  readonly message: string;
  readonly hint: string;
}

const dboxHints: Record<Operation, string> = {
  copy: 'copy it over IMAP: add --imap-fallback imaps://user@host (password from --password-file or MAILSHIFT_SOURCE_PASSWORD), or convert it to maildir on the server first (doveadm sync, cPanel convert_mdbox_to_maildir)',
  resync:
    'copy it over IMAP: add --imap-fallback imaps://user@host (password from --password-file or MAILSHIFT_SOURCE_PASSWORD), or convert it to maildir on the server first (doveadm sync, cPanel convert_mdbox_to_maildir)',
  watch: 'watch follows maildir files; for a dbox store run `mailshift resync` with --imap-fallback imaps://user@host now and then instead',
  verify: 'verify over IMAP instead: give the source as imaps://user@host (the server that serves this mailbox)',
};

export function decideRoute(operation: Operation, source: EndFacts, target: EndFacts, fallback?: FallbackDecision): Route | RouteRefusal {
  if (source.files?.layout === 'archive' || target.files?.layout === 'archive') return decideArchiveRoute(operation, source, target);
  if (fallback?.used) {
    return { use: 'messages', reason: `the source cannot be read at file level (${fallback.reason}): read over IMAP (${fallback.imap}) instead`, fallback };
  }
  const imapEnd = !source.files ? source : !target.files ? target : undefined;
  if (imapEnd) {
    return { use: 'messages', reason: `${imapEnd === source ? 'the source' : 'the target'} ${imapEnd.label} is an IMAP account: messages move one at a time through the stores`, ...(fallback ? { fallback } : {}) };
  }
  const from = source.files!;
  if (from.layout === 'mbox') {
    // verify reads an mbox as a store (its messages, as convert would store them); the others move maildir files.
    if (operation === 'verify') return { use: 'messages', reason: `the source ${source.label} is mbox: it has no message files to compare one by one, so its messages are read` };
    if (from.detail) {
      return refusal('MAILSHIFT_USAGE', `${source.label} is ${from.detail}, neither a maildir nor an mbox: ${operation} moves maildir directories`, 'give the maildir directory (the one holding cur/, new/ and tmp/), or a cpanel:ROOT#USER account');
    }
    return refusal('MAILSHIFT_USAGE', `${source.label} is mbox: ${operation} moves maildir files`, 'turn it into a maildir with `mailshift convert SOURCE MAILDIR` (or copy it to an IMAP account: mailshift copy SOURCE imaps://user@host)');
  }
  if (from.layout === 'dbox') return refusal('MAILSHIFT_SOURCE_DBOX', from.detail ?? `${source.label} is a Dovecot dbox store, not maildir files`, dboxHints[operation]);
  const where = `${describeTree(source)} -> ${describeTree(target)}`;
  const how: Record<Operation, string> = {
    copy: 'rsync moves the files as they are (flags in file names, hard links, UIDs, owners)',
    resync: 'rsync brings over what is new, matched by maildir base name',
    watch: 'new files are watched for and brought over by rsync, matched by maildir base name',
    verify: 'compared file by file, by maildir base name',
  };
  return { use: 'files', reason: `both ends are file trees (${where}): ${how[operation]}`, ...(fallback ? { fallback } : {}) };
}

/**
 * A cPanel backup is one compressed stream: nothing in it can be reached without reading what comes before, so
 * neither rsync (which wants files) nor the stores (which want to list, then read by reference) can use it as it
 * is. The archive engine reads it once and writes each message where it belongs as it passes, into a tree here or
 * over ssh (there through one remote tar per batch). Into an IMAP account the same one pass appends each message to
 * the account as it passes (archive/imap-restore.ts), paired by identity with what the account holds. A backup is
 * never a target: `mailshift export` writes one.
 *
 * resync is the same restore: a backup never changes, and the restore adds only what the target lacks, so running it
 * again is what a resync from it can be. verify and watch are refused, each with what to run instead.
 */
function decideArchiveRoute(operation: Operation, source: EndFacts, target: EndFacts): Route | RouteRefusal {
  if (target.files?.layout === 'archive') {
    return refusal('MAILSHIFT_USAGE', `${target.label} is a cPanel backup: ${operation} does not write into a backup`, 'write a backup with `mailshift export SOURCE BACKUP.tar.gz`');
  }
  if (operation === 'verify') {
    return refusal('MAILSHIFT_USAGE', `${source.label} is a cPanel backup: verify compares live trees and accounts`, 'a dry run of the restore compares every message of the backup with the target: `mailshift copy --dry-run BACKUP TARGET` (--json names what would still be added; nothing means the target has it all)');
  }
  if (operation === 'watch') {
    return refusal('MAILSHIFT_USAGE', `${source.label} is a cPanel backup: a backup never changes, there is nothing to watch`, 'restore it with `mailshift copy BACKUP TARGET`; running that again adds only what the target lacks');
  }
  const again = operation === 'resync' ? ' (resync from a backup is the restore again: the backup never changes, and only what the target lacks is added)' : '';
  if (!target.files) {
    // The messages engine lists a folder before it reads it, by reference; a compressed stream cannot be read that
    // way. The backup is read once instead, and each message appended as it passes; the target is listed by identity
    // folder by folder as the stream reaches it, which is what the messages engine's pairing needs of it.
    return {
      use: 'messages',
      reason: `the source ${source.label} is a cPanel backup and the target ${target.label} an IMAP account: the backup is read once from start to end and each message of the mailbox is appended as it passes (no extraction, no staging maildir), paired by identity with what the account holds${again}`,
    };
  }
  if (target.files.layout !== 'cpanel' && target.files.layout !== 'maildir') {
    return refusal('MAILSHIFT_USAGE', `${target.label} is not a maildir or a cPanel root`, 'restore into a cPanel root (cpanel:ROOT#USER) or a maildir directory');
  }
  return {
    use: 'archive',
    reason: `the source ${source.label} is a cPanel backup: read once from start to end, its messages written straight into the ${target.files.layout === 'cpanel' ? 'cPanel account' : 'maildir'}${target.files.location === 'local' ? '' : ' over ssh (one remote tar per batch, then renamed into place)'} as they pass (no extraction, no rsync)${again}`,
  };
}

export function isRefusal(decision: Route | RouteRefusal): decision is RouteRefusal {
  return 'refuse' in decision;
}

function refusal(code: RouteRefusal['code'], message: string, hint: string): RouteRefusal {
  return { refuse: true, code, message, hint };
}

function describeTree(end: EndFacts): string {
  const files = end.files!;
  const what = files.layout === 'cpanel' ? 'cPanel' : 'maildir';
  return files.location === 'ssh' ? `${what} over ssh` : `local ${what}`;
}
