import { constants as fsConstants } from 'node:fs';
import { link, open, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { MailshiftError, systemErrorCode, UsageError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import type { Logger } from '../core/logger.js';

/**
 * A campaign's passwords, out of the plan: a JSON file of mode 0600 (`{ "version": 1, "credentials": { NAME: SECRET } }`)
 * that plan rows name in source_credential / target_credential. Written once, never over an existing file (a plan
 * imported twice must not silently replace passwords someone fixed by hand); read with a warning when others may
 * read it. Every secret read is registered with the logger, so no log line can show it.
 */
interface CredentialsDocument {
  readonly version: 1;
  readonly credentials: Record<string, string>;
}

/** Writes the file through a temporary name in the same directory, created 0600 before a byte is written; never replaces a file. */
export async function writeCredentialsFile(file: string, secrets: ReadonlyMap<string, string>): Promise<void> {
  const document: CredentialsDocument = { version: 1, credentials: Object.fromEntries(secrets) };
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const handle = await open(temporary, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(document, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    // link(2) is the no-clobber rename: it fails with EEXIST instead of replacing a file someone made meanwhile.
    await link(temporary, file);
  } catch (err) {
    if (systemErrorCode(err) === 'EEXIST') throw new UsageError(`${file} exists already: its credentials are kept`, 'name another credentials file, or move the old one away first');
    throw err;
  } finally {
    await rm(temporary, { force: true });
  }
}

export async function readCredentialsFile(file: string, logger: Logger): Promise<Map<string, string>> {
  let text: string;
  try {
    const info = await stat(file);
    // 0600 or stricter: a file others can read gives every mailbox of the campaign away.
    if ((info.mode & 0o077) !== 0) logger.warn(`${file} can be read by other users (mode ${(info.mode & 0o777).toString(8)}): chmod 600 ${file}`);
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new MailshiftError('MAILSHIFT_PASSWORD_FILE', `cannot read the credentials file ${file}: ${systemErrorCode(err) ?? String(err)}`, { exitCode: ExitCode.config, cause: err });
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    // Never quote the text: it is full of passwords.
    throw new MailshiftError('MAILSHIFT_PASSWORD_FILE', `the credentials file ${file} is not JSON`, { exitCode: ExitCode.config, hint: 'expected { "version": 1, "credentials": { "NAME": "SECRET" } }' });
  }
  const credentials = (document as { version?: unknown; credentials?: unknown } | null)?.credentials;
  if ((document as { version?: unknown } | null)?.version !== 1 || typeof credentials !== 'object' || credentials === null) {
    throw new MailshiftError('MAILSHIFT_PASSWORD_FILE', `the credentials file ${file} is not a mailshift credentials file (version 1)`, { exitCode: ExitCode.config, hint: 'expected { "version": 1, "credentials": { "NAME": "SECRET" } }' });
  }
  const secrets = new Map<string, string>();
  for (const [name, secret] of Object.entries(credentials)) {
    if (typeof secret !== 'string' || secret === '') throw new MailshiftError('MAILSHIFT_PASSWORD_FILE', `the credentials file ${file}: ${name} has no secret`, { exitCode: ExitCode.config });
    logger.redact(secret);
    secrets.set(name, secret);
  }
  return secrets;
}
