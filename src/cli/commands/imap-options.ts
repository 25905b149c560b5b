import { InvalidArgumentError, type Command } from 'commander';
import { FolderMappingError, parseFolderExclude, parseFolderMapRule, type FolderMapRule } from '../../../converters/folders/imap-mapping.js';
import { MailshiftError, UsageError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { ExitCode } from '../../core/exit-codes.js';
import { parseStoreSpec, type StoreSpec } from '../../stores/spec.js';
import type { SshOptions } from '../../transport/ssh.js';
import type { CliContext } from '../context.js';
import { withSshSession, type SshCliOptions } from './ssh-options.js';

/**
 * The IMAP side of copy, resync, verify and watch: their IMAP options, and which engine a command uses (files, or
 * IMAP when either end is an imap:// or imaps:// spec or `--imap-fallback` is needed). The actions themselves are
 * in imap-actions.ts. Passwords come from files, stdin or the environment, never from argv.
 */
export interface ImapCliOptions {
  passwordFile?: string;
  sourcePasswordFile?: string;
  targetPasswordFile?: string;
  caFile?: string;
  insecure?: boolean;
  maxConnections: number;
  map: string[];
  exclude: string[];
  virtualFolders?: boolean;
  skipExisting: boolean;
  maxSize?: number;
  accountTimeout?: number;
  stateDir?: string;
  justlogin?: boolean;
  imapFallback?: string;
  // shared with the file-level options of copy/resync/verify
  dryRun?: boolean;
  jobs?: number;
  retries?: number;
  retryDelay?: number;
  timeout?: number;
  strict?: boolean;
  list?: number;
}

export function addImapOptions(command: Command, options: { forVerify?: boolean; forWatch?: boolean } = {}): Command {
  command
    .option('--password-file <file>', 'IMAP password (the access token with ;AUTH=XOAUTH2) from this file ("-" = standard input); or MAILSHIFT_SOURCE_PASSWORD / MAILSHIFT_TARGET_PASSWORD / MAILSHIFT_IMAP_PASSWORD')
    .option('--source-password-file <file>', 'password of the source IMAP account when both ends are IMAP')
    .option('--target-password-file <file>', 'password of the target IMAP account when both ends are IMAP')
    .option('--ca-file <file>', 'trust the certificates in this PEM file too (a self-signed IMAP server)')
    .option('--insecure', 'IMAP: do not verify the server certificate, allow a cleartext login (never the default)')
    // Only copy has --jobs; resync, verify and watch must not point to an option they do not have.
    .option('--max-connections <n>', command.options.some((o) => o.long === '--jobs') ? 'IMAP connections per server (folders copied in parallel, up to --jobs)' : 'IMAP connections per server', parsePositiveInt, 2)
    .option('--map <regex=>name>', 'IMAP: put source folders matching REGEX into NAME ($1... allowed), repeatable', collect, [])
    .option('--exclude <regex>', 'IMAP: do not copy source folders matching REGEX, repeatable', collect, [])
    .option('--virtual-folders', 'IMAP: also copy virtual folders (Gmail All Mail, Important, Starred); off by default')
    .option('--state-dir <dir>', 'where IMAP copies keep per-folder UIDVALIDITY and copied UIDs (default ~/.local/state/mailshift/sync)');
  if (!options.forVerify) {
    command
      .option('--no-skip-existing', 'IMAP: do not compare with what the target already holds (only the saved state prevents duplicates)')
      .option('--max-size <size>', 'IMAP: skip and report messages larger than this (e.g. 35M)', parseSizeBytes);
  }
  if (!options.forVerify && !options.forWatch) {
    command
      .option('--account-timeout <s>', 'IMAP: stop an account after this many seconds (state is kept; run again to continue)', parsePositiveInt)
      .option('--justlogin', 'IMAP: log in to both ends, show what the servers offer, copy nothing')
      .option('--imap-fallback <url>', 'imaps://user@host: use IMAP for the source when its files cannot be read (no ssh, mdbox, missing)');
  }
  return command;
}

/** True when either spec is an IMAP URL. */
export function involvesImap(...specTexts: readonly string[]): boolean {
  return specTexts.some((text) => /^imaps?:\/\//i.test(text));
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

export type EngineRoute = { readonly engine: 'imap' | 'files'; readonly fallback?: FallbackDecision };

/**
 * The point where copy and resync decide: an IMAP spec on either end, or a fallback the user allowed and the source
 * needs (decideFileAccess looks at the source once, over one shared ssh connection). Everything else stays at file
 * level, where an unreachable source fails exactly as it does without --imap-fallback.
 */
export async function decideEngine(sourceText: string, targetText: string, cmd: Command, ctx: CliContext): Promise<EngineRoute> {
  const options = cmd.optsWithGlobals<ImapCliOptions & SshCliOptions>();
  const logger = ctx.logger();
  if (involvesImap(sourceText, targetText)) {
    if (options.imapFallback) logger.warn(`--imap-fallback ${options.imapFallback} ignored: ${involvesImap(sourceText) ? 'the source' : 'the target'} is IMAP already`);
    return { engine: 'imap' };
  }
  if (!options.imapFallback) return { engine: 'files' };
  // Checked before anything is looked at, so a mistyped URL fails now and not after the source turned out unreachable.
  if (parseStoreSpec(options.imapFallback).kind !== 'imap') {
    throw new UsageError(`--imap-fallback ${options.imapFallback} is not an imap:// or imaps:// URL`, 'write --imap-fallback imaps://user@host[:port]');
  }
  const sourceSpec = parseStoreSpec(sourceText);
  const { decideFileAccess } = await import('../../engine/file-access.js');
  const access = await withSshSession(options, [sourceSpec], (ssh) => decideFileAccess(sourceSpec, { ssh, signal: ctx.signal }));
  if (access.isReachable) {
    logger.info(`--imap-fallback not needed: ${access.reason}`);
    return { engine: 'files', fallback: { used: false, imap: options.imapFallback, reason: access.reason } };
  }
  if (sourceSpec.kind === 'cpanel' && !sourceSpec.mailbox) {
    throw new UsageError(
      `${sourceText} cannot be read at file level (${access.reason}), and --imap-fallback replaces one mailbox, not a whole cPanel account`,
      'copy each mailbox on its own: cpanel:ROOT#local@domain with --imap-fallback imaps://local@domain@host',
    );
  }
  logger.warn(`using IMAP (${options.imapFallback}) for ${sourceText}: ${access.reason}`);
  return { engine: 'imap', fallback: { used: true, imap: options.imapFallback, reason: access.reason } };
}

/**
 * Without --imap-fallback: a Dovecot dbox store named as a maildir source is refused before anything is copied.
 * rsync would copy storage/m.* files into a "maildir" no server can read, and resync would find no folders and say
 * "In sync.". Missing or unreachable sources are left to the file-level code, so its errors stay what they were.
 */
export async function refuseDboxSource(source: StoreSpec, ssh: SshOptions, signal: AbortSignal, hint = copyDboxHint): Promise<void> {
  if (source.kind !== 'path' && source.kind !== 'maildir') return;
  const { decideFileAccess } = await import('../../engine/file-access.js');
  const access = await decideFileAccess(source, { ssh, signal });
  if (access.isReachable || access.cause !== 'dbox') return;
  // The reason names the directory (and the host): it is the whole message.
  throw new MailshiftError('MAILSHIFT_SOURCE_DBOX', access.reason, { hint, exitCode: ExitCode.config });
}

const copyDboxHint =
  'copy it over IMAP: add --imap-fallback imaps://user@host (password from --password-file or MAILSHIFT_SOURCE_PASSWORD), or convert it to maildir on the server first (doveadm sync, cPanel convert_mdbox_to_maildir)';
export const watchDboxHint = 'watch follows maildir files; for a dbox store run `mailshift resync` with --imap-fallback imaps://user@host now and then instead';
export const verifyDboxHint = 'verify over IMAP instead: give the source as imaps://user@host (the server that serves this mailbox)';

/** Human output's line about --imap-fallback; empty when it was not given. */
export function formatFallbackLine(fallback: FallbackDecision | undefined): string {
  if (!fallback) return '';
  return fallback.used ? `Using IMAP (${fallback.imap}) because ${fallback.reason}\n` : `IMAP fallback not needed: ${fallback.reason}\n`;
}

export function buildFolderRules(options: ImapCliOptions): { maps: FolderMapRule[]; excludes: RegExp[] } {
  try {
    return { maps: options.map.map(parseFolderMapRule), excludes: options.exclude.map(parseFolderExclude) };
  } catch (err) {
    if (err instanceof FolderMappingError) throw new UsageError(err.message);
    throw err;
  }
}

/** `mailshift copy` / `resync` with an IMAP end: the store-to-store engine. Resync is the same incremental copy. */
/** Options of the file-level copy and resync that an IMAP copy cannot honour: ignored, with a warning. */
const fileLevelOnlyOptions: readonly { readonly name: string; readonly flag: string }[] = [
  { name: 'bwlimit', flag: '--bwlimit' },
  { name: 'dedupe', flag: '--no-dedupe' },
  { name: 'renameUser', flag: '--rename-user' },
  { name: 'chown', flag: '--no-chown' },
  { name: 'uid', flag: '--uid' },
  { name: 'gid', flag: '--gid' },
  { name: 'mailGid', flag: '--mail-gid' },
  { name: 'sshKey', flag: '--ssh-key' },
  { name: 'sshOption', flag: '--ssh-option' },
  { name: 'sshConfig', flag: '--ssh-config' },
];

export function checkFileLevelOptions(cmd: Command, logger: Logger): void {
  const given = (name: string) => cmd.getOptionValueSource(name) === 'cli';
  const ignored = fileLevelOnlyOptions.filter((option) => given(option.name)).map((option) => option.flag);
  if (ignored.length > 0) logger.warn(`${ignored.join(', ')}: for file-level copies only; ignored by this IMAP copy`);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parsePositiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a whole number, 1 or more');
  return Number(value);
}

/** "35M", "500K", "2G", "45000000" -> bytes (powers of 1024 for the suffixes). */
export function parseSizeBytes(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([KMG]?)i?B?$/i.exec(value.trim());
  if (!match) throw new InvalidArgumentError('expected a size like 35M, 500K or 45000000');
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[match[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Math.round(Number(match[1]) * unit);
}

