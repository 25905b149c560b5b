import { lstat, readFile } from 'node:fs/promises';
import { MailshiftError, systemErrorCode } from './errors.js';
import { ExitCode } from './exit-codes.js';
import type { Logger } from './logger.js';

/**
 * Where a password comes from: a file (`--password-file FILE`), standard input (`--password-file -`) or an
 * environment variable. Never argv: a command line is visible to every user of the machine in `ps`. Whatever is read
 * is registered with the logger at once, so no later log line (ours or a library's) can show it.
 */
export interface PasswordSource {
  /** What the password is for, in messages: "the source IMAP account alice@mail.example.com". */
  readonly label: string;
  /** What the secret is called in messages; default "password" ("access token" for an OAuth2 login). */
  readonly secretName?: string;
  /** A path, or "-" for standard input. Wins over the environment. */
  readonly passwordFile?: string;
  /** Environment variables to look at, first match wins. */
  readonly envNames: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly readStdin: () => Promise<string>;
  readonly logger: Logger;
}

/** Password files already warned about (a file is read again for each new IMAP connection). */
const warnedFiles = new Set<string>();

export async function readPassword(source: PasswordSource): Promise<string> {
  const password = await readRaw(source);
  if (password === '') {
    const name = source.secretName ?? 'password';
    throw new MailshiftError('MAILSHIFT_EMPTY_PASSWORD', `the ${name} for ${source.label} is empty`, {
      exitCode: ExitCode.config,
      hint: `put the ${name} on the first line of the file (a trailing newline is fine)`,
    });
  }
  source.logger.redact(password);
  return password;
}

async function readRaw(source: PasswordSource): Promise<string> {
  if (source.passwordFile === '-') return stripOneNewline(await source.readStdin());
  if (source.passwordFile !== undefined) {
    const file = source.passwordFile;
    let stat;
    try {
      stat = await lstat(file);
    } catch (err) {
      throw new MailshiftError('MAILSHIFT_PASSWORD_FILE', `cannot read the password file ${file}: ${systemErrorCode(err) ?? String(err)}`, {
        exitCode: ExitCode.config,
        cause: err,
      });
    }
    if (!stat.isFile()) {
      throw new MailshiftError('MAILSHIFT_PASSWORD_FILE', `the password file ${file} is not a regular file`, {
        exitCode: ExitCode.config,
        hint: 'use a plain file (mode 0600), or "-" to read the password from standard input',
      });
    }
    if ((stat.mode & 0o077) !== 0 && !warnedFiles.has(file)) {
      warnedFiles.add(file);
      source.logger.warn(`the password file ${file} can be read by other users (mode ${(stat.mode & 0o777).toString(8)}); chmod 600 it`);
    }
    return stripOneNewline(await readFile(file, 'utf8'));
  }
  for (const name of source.envNames) {
    const value = source.env[name];
    if (value !== undefined && value !== '') return value;
  }
  const name = source.secretName ?? 'password';
  throw new MailshiftError('MAILSHIFT_NO_PASSWORD', `no ${name} for ${source.label}`, {
    exitCode: ExitCode.config,
    hint: `use --password-file FILE, --password-file - (standard input) or set ${source.envNames.join(' or ')}; a ${name} is never taken from the command line`,
  });
}

/** One trailing newline is how files and `echo` end; anything else (spaces, a second line) is part of the secret. */
function stripOneNewline(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  if (text.endsWith('\n')) return text.slice(0, -1);
  return text;
}

/** The environment variables looked at for one side of a copy, most specific first. */
export function passwordEnvNames(side: 'source' | 'target'): string[] {
  return [side === 'source' ? 'MAILSHIFT_SOURCE_PASSWORD' : 'MAILSHIFT_TARGET_PASSWORD', 'MAILSHIFT_IMAP_PASSWORD'];
}

/**
 * `scheme://user:PASSWORD@host` -> `scheme://user:***@host`, wherever such a URL appears in a text (a refusal quoting
 * the spec, a path taken for a local one, a JSON document). A password never belongs in a URL on the command line (the
 * spec parser refuses it), and the refusal must not print it back. The authority ends at the first '/' (or a space,
 * in free text) and the user information at its last '@', as the spec parser reads them. `secrets` found beforehand
 * in the command line (findUrlSecrets: a password with spaces in it) are masked wherever they appear.
 */
export function maskUrlSecrets(text: string, secrets: readonly string[] = []): string {
  let masked = text;
  for (const secret of secrets) masked = masked.split(secret).join('***');
  if (!masked.includes('://')) return masked;
  return masked.replace(/([a-z][a-z0-9+.-]*:\/\/)([^/\s"'<>]*)/gi, (whole, scheme: string, authority: string) => {
    const span = findPasswordSpan(authority);
    return span ? `${scheme}${authority.slice(0, span.start)}***${authority.slice(span.end)}` : whole;
  });
}

/**
 * The passwords typed into URLs of one command-line argument (`imap://user:pass word@host`): everything between the
 * first ':' and the last '@' of the user information, the authority ending at the first '/'. Secrets shorter than 3
 * characters are left to the pattern of maskUrlSecrets (masking every "a" in a report would garble it).
 */
export function findUrlSecrets(arg: string): string[] {
  const found: string[] = [];
  for (const match of arg.matchAll(/[a-z][a-z0-9+.-]*:\/\/([^/]*)/gi)) {
    const authority = match[1]!;
    const span = findPasswordSpan(authority);
    const secret = span ? authority.slice(span.start, span.end) : '';
    if (secret.length >= 3) found.push(secret);
  }
  return found;
}

/** Where the password of a URL authority (`user:PASSWORD@host`) stands: after the first ':' of the user information, up to its last '@'. */
function findPasswordSpan(authority: string): { start: number; end: number } | undefined {
  const at = authority.lastIndexOf('@');
  const colon = authority.indexOf(':');
  if (at < 0 || colon < 0 || colon > at) return undefined;
  return { start: colon + 1, end: at };
}
