import path from 'node:path';
import { isWithin, joinRel, resolveLinkTarget, type Refusal, type TreeReader } from '../../fsops/walk.js';
import { isCpanelMailboxLink } from './parse.js';
import { isOnlyUndecodable } from '../unsafe.js';
import type { Finding, FindingKind, FolderInventory } from './types.js';

/** Keeps findings up to a cap per account, so a tree with a million bad names cannot exhaust memory. */
export class FindingSink {
  readonly list: Finding[] = [];
  dropped = 0;
  constructor(private readonly cap = 1000) {}
  add(finding: Finding): void {
    if (this.list.length < this.cap) this.list.push(finding);
    else this.dropped += 1;
  }
}

/** What scanning one account needs: the reader, the account boundary and the findings collector. */
export interface ScanContext {
  readonly reader: TreeReader;
  /** Root-relative, link-free home of the account: links must not point outside it. */
  readonly home: string;
  readonly findings: FindingSink;
  /** Stat every message file instead of trusting ",S=" (finds unreadable modes and sparse files everywhere). */
  readonly statEveryMessage: boolean;
  /** UTF8MAILBOX=1: folder names on disk are raw UTF-8, not modified UTF-7. */
  readonly utf8Names: boolean;
  readonly signal?: AbortSignal;
}

/**
 * Classifies a link found at `linkRel` without following it: its target text is resolved lexically (as the server
 * would) and compared with the account boundary. cPanel's own `.LOCAL@DOMAIN_TLD` mailbox links are normal and
 * return 'mailbox-link'; everything else becomes a finding (and is never followed: following cPanel's links would
 * also count every mailbox twice).
 */
export async function classifyLink(ctx: ScanContext, linkRel: string): Promise<'mailbox-link' | Finding> {
  const target = await ctx.reader.readLink(linkRel);
  if (target === undefined) return { kind: 'unreadable', path: linkRel, detail: 'symlink target cannot be read' };
  const resolved = resolveLinkTarget(linkRel, target);
  if (resolved === undefined || !isWithin(resolved, ctx.home)) {
    return { kind: 'symlink-outside-account', path: linkRel, target, detail: `symlink points outside the account (${target}); not followed` };
  }
  // Does the in-account target exist? lstat through verified directories only, so this never leaves the account.
  const exists = await existsInAccount(ctx, resolved);
  const isCpanelLink = isCpanelMailboxLink(path.posix.basename(linkRel), target) && path.posix.dirname(linkRel) === joinRel(ctx.home, 'mail');
  if (!exists) return { kind: 'dangling-symlink', path: linkRel, target, detail: `symlink target does not exist (${target})` };
  if (isCpanelLink) return 'mailbox-link';
  return { kind: 'symlink-inside-account', path: linkRel, target, detail: `symlink inside the account (${target}); not followed, copied as a link` };
}

/** Classifies a link and records the finding; true for a normal cPanel mailbox link (nothing recorded). */
export async function reportLink(ctx: ScanContext, linkRel: string): Promise<boolean> {
  const result = await classifyLink(ctx, linkRel);
  if (result === 'mailbox-link') return true;
  ctx.findings.add(result);
  return false;
}

async function existsInAccount(ctx: ScanContext, rel: string): Promise<boolean> {
  const sub = rel.slice(ctx.home.length).replace(/^\//, '');
  const dir = path.posix.dirname(sub);
  const check = await ctx.reader.verifyDir(ctx.home, dir === '.' ? '' : dir);
  if (!check.ok) return false;
  const stat = await ctx.reader.lstat(rel);
  return stat.ok;
}

/** Turns a refusal into a finding when it is worth one (a missing optional file is not). */
export async function noteRefusal(ctx: ScanContext, refusal: Refusal, what: string): Promise<void> {
  const finding = await findingForRefusal(ctx, refusal, what);
  if (finding) ctx.findings.add(finding);
}

export async function findingForRefusal(ctx: ScanContext, refusal: Refusal, what: string): Promise<Finding | undefined> {
  switch (refusal.reason) {
    case 'missing':
      return undefined;
    case 'symlink': {
      const classified = await classifyLink(ctx, refusal.at);
      // A cPanel mailbox link where a file was expected is still not something to read through.
      return classified === 'mailbox-link'
        ? { kind: 'symlink-inside-account', path: refusal.at, detail: `${what} is a symlink; not followed` }
        : classified;
    }
    case 'unreadable':
      return { kind: 'unreadable', path: refusal.at, detail: `${what} cannot be read (${refusal.errno ?? 'EACCES'})`, ...(refusal.errno ? { errno: refusal.errno } : {}) };
    case 'not-a-file':
      return { kind: 'special-file', path: refusal.at, detail: `${what} is not a regular file; not opened` };
    case 'outside-root':
      return { kind: 'symlink-outside-account', path: refusal.at, detail: `${what} leads outside the tree; not followed`, ...(refusal.target ? { target: refusal.target } : {}) };
    default:
      return { kind: 'unreadable', path: refusal.at, detail: `${what}: ${refusal.reason}${refusal.errno ? ` (${refusal.errno})` : ''}`, ...(refusal.errno ? { errno: refusal.errno } : {}) };
  }
}

export function finding(kind: FindingKind, pathRel: string, detail: string): Finding {
  return { kind, path: pathRel, detail };
}

/** A mode that lets nobody read the file: only root's override can, and Dovecot (running as the user) cannot. */
export function isModeUnreadable(mode: number): boolean {
  return (mode & 0o444) === 0;
}

/** INBOX first, then by name (code-unit order, stable across runs and locales). */
export function byFolderName(a: FolderInventory, b: FolderInventory): number {
  if (a.name === b.name) return 0;
  if (a.name === 'INBOX') return -1;
  if (b.name === 'INBOX') return 1;
  return a.name < b.name ? -1 : 1;
}

/**
 * The finding for a name discover will not open. Unsafe when the name itself could do harm (control characters, a
 * level that climbs); only odd when its one fault is bytes that are not UTF-8 (a Latin-1 folder), judged by the rule
 * copy uses (cpanel/unsafe.ts): copy carries those byte for byte, and discover cannot open them by a lossily
 * decoded name, so they are not counted here.
 */
export function nameFinding(name: string, path: string, problem: string, notDone: string, isFolderDir = false): Finding {
  if (isOnlyUndecodable(name, isFolderDir)) return { kind: 'undecodable-name', path, detail: `name is not valid UTF-8; ${notDone} here (copy carries it byte for byte)` };
  return { kind: 'unsafe-name', path, detail: `${problem}; ${notDone}` };
}
