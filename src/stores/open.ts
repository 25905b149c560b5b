import { readFile, stat } from 'node:fs/promises';
import { MailshiftError, systemErrorCode, UsageError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import type { Logger } from '../core/logger.js';
import { formatSpec, type ImapSpec, type StoreSpec } from './spec.js';
import type { MailStore } from './store.js';

/**
 * The driver table: a parsed store spec -> an open MailStore. The engine never sees which driver it got.
 *
 *   maildir:/p, a local path holding a maildir (or not existing yet, for a target) -> MaildirStore
 *   mbox:/p, a local mbox file, .gz of one, or directory of mbox files (source only)  -> MboxStore (read only)
 *   imap://, imaps://                                                           -> ImapStore
 * A plain path is looked at (classifyLocalMailPath): a file or a directory of mbox files is mbox, a directory with
 * cur/ or Maildir++ folders is a maildir. Remote (ssh) paths and cPanel specs go through their own commands (copy)
 * and are refused here with a hint, never guessed at; so is an mbox as a target.
 *
 * Each driver is loaded when a spec needs it, not with this module: an IMAP to IMAP run (a second run with nothing new
 * is mostly start-up and login) does not load the file drivers, and a copy between files does not load imapflow.
 */
export interface OpenStoreOptions {
  readonly mode: 'read' | 'write';
  readonly logger: Logger;
  /**
   * Called only for IMAP specs, so a password is never asked for when none is needed; called again for every new
   * connection after the first (a source that cannot be read twice, such as standard input, must remember its value).
   */
  readonly password?: (spec: ImapSpec) => Promise<string>;
  /** `--ca-file`: a PEM file whose certificates are trusted in addition to the system's. */
  readonly caFile?: string;
  readonly isInsecure?: boolean;
  readonly maxConnections?: number;
  readonly connectTimeoutMs?: number;
  readonly clientVersion?: string;
  /** IMAP: attempts after a temporary failure of the first connection, and the first back-off delay (`--retries`, `--retry-delay`). */
  readonly retries?: number;
  readonly retryBaseMs?: number;
  readonly signal?: AbortSignal;
  /** A maildir that does not exist yet is accepted in read mode too: the target of a dry run, which writes nothing. */
  readonly allowMissing?: boolean;
}

export interface OpenedStore {
  readonly store: MailStore;
  readonly label: string;
}

export async function openStore(spec: StoreSpec, options: OpenStoreOptions): Promise<OpenedStore> {
  const label = formatSpec(spec);
  switch (spec.kind) {
    case 'imap': {
      if (!options.password) throw new UsageError(`${label}: no password source for an IMAP store`);
      const password = await options.password(spec);
      const caPem = options.caFile ? await readCaFile(options.caFile) : undefined;
      if (options.isInsecure) options.logger.warn(`${label}: --insecure: the server certificate is not checked and a cleartext login is allowed`);
      const readPassword = options.password;
      // Loaded here, not at the top: verify and copy between file trees open maildirs through this module and must
      // not pay for loading the IMAP client.
      const { ImapStore } = await import('./imap/index.js');
      const store = await ImapStore.open({
        spec,
        password,
        readPassword: () => readPassword(spec),
        logger: options.logger,
        writable: options.mode === 'write',
        ...(caPem ? { caPem } : {}),
        ...(options.isInsecure ? { isInsecure: true } : {}),
        ...(options.maxConnections ? { maxConnections: options.maxConnections } : {}),
        ...(options.connectTimeoutMs ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
        ...(options.clientVersion ? { clientVersion: options.clientVersion } : {}),
        ...(options.retries !== undefined ? { connectRetries: options.retries } : {}),
        ...(options.retryBaseMs !== undefined ? { retryBaseMs: options.retryBaseMs } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      return { store, label: store.label };
    }
    case 'maildir':
    case 'path':
    case 'mbox': {
      if (spec.location.type !== 'local') {
        throw new UsageError(`${label}: a remote ${spec.kind === 'mbox' ? 'mbox' : 'maildir'} cannot be one side of an IMAP copy`, 'copy IMAP into a local maildir, then use `mailshift copy` (rsync) to move it');
      }
      const { classifyLocalMailPath } = await import('./probe.js');
      const layout = spec.kind === 'path' ? await classifyLocalMailPath(spec.path) : undefined;
      if (spec.kind === 'mbox' || layout?.kind === 'mbox') {
        if (options.mode === 'write') {
          throw new UsageError(`${label} is mbox${layout?.kind === 'mbox' ? ` (${layout.reason})` : ''}: mbox can be a source, not a target`, 'copy into a maildir path or an IMAP account; to turn mbox into a maildir use `mailshift convert SOURCE MAILDIR`');
        }
        if (layout?.kind === 'mbox') options.logger.debug(`${label}: read as mbox (${layout.reason})`);
        const { MboxStore } = await import('./mbox/index.js');
        return { store: new MboxStore(spec.path, { logger: options.logger }), label };
      }
      if (spec.kind === 'path') await checkMaildirPath(spec.path, options.mode === 'write' || options.allowMissing ? 'may-be-missing' : 'must-exist', label);
      const { MaildirStore } = await import('./maildir/index.js');
      return { store: new MaildirStore(spec.path, { writable: options.mode === 'write' }), label };
    }
    case 'cpanel':
      throw new UsageError(`${label}: cPanel specs are handled by mailshift copy; for IMAP use the mailbox's maildir path`, 'e.g. /home/USER/mail/DOMAIN/LOCAL');
    case 'archive':
      throw new UsageError(`${label}: a cPanel backup is restored by mailshift copy into a cPanel root or a maildir`, 'restore it into a maildir first (mailshift copy cpmove:BACKUP#local@domain MAILDIR), then copy that maildir');
  }
}

/** A local maildir, read only, opened without looking at it first (verify reports a missing one itself). */
export async function openLocalMaildir(dir: string): Promise<MailStore> {
  const { MaildirStore } = await import('./maildir/index.js');
  return new MaildirStore(dir, { writable: false });
}

/** A plain path must be a directory; a write target (or a dry run's target) may also not exist yet. */
async function checkMaildirPath(dir: string, existence: 'must-exist' | 'may-be-missing', label: string): Promise<void> {
  try {
    const info = await stat(dir);
    if (!info.isDirectory()) throw new UsageError(`${label} is not a directory, not a maildir`);
  } catch (err) {
    if (err instanceof MailshiftError) throw err;
    if (systemErrorCode(err) === 'ENOENT' && existence === 'may-be-missing') return;
    throw new MailshiftError('MAILSHIFT_MAILDIR_MISSING', `cannot open ${label}: ${systemErrorCode(err) ?? String(err)}`, { exitCode: ExitCode.config, cause: err });
  }
}

async function readCaFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new MailshiftError('MAILSHIFT_CA_FILE', `cannot read --ca-file ${file}: ${systemErrorCode(err) ?? String(err)}`, { exitCode: ExitCode.config, cause: err });
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    throw new MailshiftError('MAILSHIFT_CA_FILE', `--ca-file ${file} holds no PEM certificate`, { exitCode: ExitCode.config });
  }
  return text;
}
