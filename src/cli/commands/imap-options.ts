import { InvalidArgumentError, type Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { FolderMappingError, parseFolderExclude, parseFolderMapRule, type FolderMapRule } from '../../../converters/folders/imap-mapping.js';
import type { Logger } from '../../core/logger.js';
import { parseSize } from '../../core/size.js';

/**
 * The IMAP options of copy, resync, verify and watch (the engine decides when they apply: engine/route.ts).
 * Passwords come from files, stdin or the environment, never from argv.
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
  maxBytesPerSecond?: number;
  maxBytes?: number;
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
      .option('--max-size <size>', 'IMAP: skip and report messages larger than this (e.g. 35M)', parseSizeBytes)
      .option('--max-bytes-per-second <size>', 'IMAP: move at most this many bytes a second, all folders together (e.g. 5M)', parseSizeBytes);
  }
  if (!options.forVerify && !options.forWatch) {
    command
      .option('--account-timeout <s>', 'IMAP: stop an account after this many seconds (state is kept; run again to continue)', parsePositiveInt)
      .option('--max-bytes <size>', 'IMAP: stop once this many bytes moved (e.g. 450M under a daily limit; exit 75, run again to continue)', parseSizeBytes)
      .option('--justlogin', 'IMAP: log in to both ends, show what the servers offer, copy nothing')
      .option('--imap-fallback <url>', 'imaps://user@host: use IMAP for the source when its files cannot be read (no ssh, mdbox, missing)');
  }
  return command;
}

export function buildFolderRules(options: ImapCliOptions): { maps: FolderMapRule[]; excludes: RegExp[] } {
  try {
    return { maps: options.map.map(parseFolderMapRule), excludes: options.exclude.map(parseFolderExclude) };
  } catch (err) {
    if (err instanceof FolderMappingError) throw new UsageError(err.message);
    throw err;
  }
}

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

/** "35M", "500K", "2G", "1T", "45000000" -> bytes (powers of 1024 for the suffixes; the grammar is core/size.ts). */
export function parseSizeBytes(value: string): number {
  const parsed = parseSize(value);
  if (!parsed.ok) throw new InvalidArgumentError(parsed.reason);
  return parsed.bytes;
}

