import path from 'node:path';
import { UsageError } from '../core/errors.js';
import { findUrlSecrets, maskUrlSecrets } from '../core/secrets.js';

/**
 * Store specs as users type them on the command line, parsed into a discriminated union. Pure: no I/O, nothing is
 * checked on disk here. Whatever reaches a shell, ssh or rsync later has passed through these checks first, so the
 * parser is strict about hosts, users and ports (nothing that could be read as an option or a second argument) and
 * lenient about paths (any byte but NUL; paths are always passed as argv elements, never through a shell).
 *
 *   /srv/mail/Maildir              plain local path (kind 'path': the caller looks at it to tell maildir from mbox)
 *   maildir:/p   mbox:/p           explicit format, local
 *   maildir:ssh://h/p              explicit format, remote
 *   ssh://[user@]host[:port]/path  remote plain path
 *   cpanel:ROOT#USER               a whole cPanel account under ROOT ("/" on a live server; ROOT may be ssh://...)
 *   cpanel:ROOT#local@domain       one mailbox of a cPanel account
 *   imap://user@host[:port]        IMAP (the user may itself contain '@'; the last '@' ends it)
 *   imaps://user@host[:port]       IMAP over TLS
 *   imaps://user;AUTH=XOAUTH2@host  how to log in, in RFC 5092's syntax (see ImapAuth)
 *   cpmove:FILE[#USER|#local@domain]  a cPanel backup (cpmove archive, .tar or .tar.gz) on this machine, or one
 *                                  mailbox of it. A plain path to such a file is recognised by its first bytes where
 *                                  it is used (engine/ends.ts), not here: this parser never reads a file.
 */

export interface LocalLocation {
  readonly type: 'local';
}

export interface SshLocation {
  readonly type: 'ssh';
  readonly user?: string;
  readonly host: string;
  readonly port?: number;
}

export type Location = LocalLocation | SshLocation;

export interface PathSpec {
  readonly kind: 'path';
  readonly location: Location;
  /** Absolute and normalised (local paths are resolved against the working directory). */
  readonly path: string;
}

export interface MaildirSpec {
  readonly kind: 'maildir';
  readonly location: Location;
  readonly path: string;
}

export interface MboxSpec {
  readonly kind: 'mbox';
  readonly location: Location;
  readonly path: string;
}

export interface CpanelSpec {
  readonly kind: 'cpanel';
  readonly location: Location;
  /** The filesystem root the cPanel layout hangs from: "/" on a live server, a directory in tests and restores. */
  readonly root: string;
  readonly user: string;
  /** Present when the spec names one mailbox (`#local@domain`) instead of the whole account (`#user`). */
  readonly mailbox?: { readonly localPart: string; readonly domain: string };
}

/**
 * How to log in, from the URL's `;AUTH=` (RFC 5092 §3.2): absent or `*`, a password with whatever mechanism the server
 * offers; `PLAIN` or `LOGIN`, a password with that mechanism only; `XOAUTH2` or `OAUTHBEARER` (both 'oauth2'), an
 * OAuth2 access token in place of the password (Microsoft 365 takes nothing else; Gmail without an app password).
 * OAUTHBEARER is used where the server offers it, else XOAUTH2.
 */
export type ImapAuth = 'plain' | 'login' | 'oauth2';

export interface ImapSpec {
  readonly kind: 'imap';
  readonly tls: boolean;
  readonly user: string;
  /** Absent: a password, any mechanism. */
  readonly auth?: ImapAuth;
  readonly host: string;
  readonly port: number;
  /** A single mailbox when the URL names one (`imap://u@h/INBOX`), '/'-separated. */
  readonly mailbox?: string;
}

export interface ArchiveSpec {
  readonly kind: 'archive';
  readonly location: LocalLocation;
  /** The backup file, absolute. */
  readonly path: string;
  /** The account's user when the spec names one (`#USER`); the archive itself says whose it is. */
  readonly user?: string;
  /** One mailbox of the backup (`#local@domain`). */
  readonly mailbox?: { readonly localPart: string; readonly domain: string };
}

export type StoreSpec = PathSpec | MaildirSpec | MboxSpec | CpanelSpec | ImapSpec | ArchiveSpec;

export function isRemote(location: Location | undefined): location is SshLocation {
  return location?.type === 'ssh';
}

/** "user@host:port" for messages; never contains secrets because specs never carry any. */
export function formatLocation(location: Location): string {
  if (location.type === 'local') return 'local';
  return `${location.user ? `${location.user}@` : ''}${location.host}${location.port ? `:${location.port}` : ''}`;
}

export function formatSpec(spec: StoreSpec): string {
  switch (spec.kind) {
    case 'imap':
      return `${spec.tls ? 'imaps' : 'imap'}://${spec.user}@${spec.host}:${spec.port}${spec.mailbox ? `/${spec.mailbox}` : ''}`;
    case 'cpanel': {
      const who = spec.mailbox ? `${spec.mailbox.localPart}@${spec.mailbox.domain}` : spec.user;
      return `cpanel:${formatPathAt(spec.location, spec.root)}#${who}`;
    }
    case 'path':
      return formatPathAt(spec.location, spec.path);
    case 'archive': {
      const who = spec.mailbox ? `#${spec.mailbox.localPart}@${spec.mailbox.domain}` : spec.user ? `#${spec.user}` : '';
      return `cpmove:${spec.path}${who}`;
    }
    default:
      return `${spec.kind}:${formatPathAt(spec.location, spec.path)}`;
  }
}

function formatPathAt(location: Location, p: string): string {
  return location.type === 'local' ? p : `ssh://${formatLocation(location)}${p}`;
}

export interface ParseSpecOptions {
  /** Base for relative local paths; defaults to process.cwd() at call time. */
  readonly cwd?: string;
}

const hint =
  'use a path, maildir:/path, mbox:/path, ssh://[user@]host[:port]/path, cpanel:ROOT#USER, cpanel:ROOT#local@domain, cpmove:BACKUP[#local@domain], imap://user@host or imaps://user@host';

/**
 * Parses a spec; a refusal never quotes a password typed into the URL (`imap://user:secret@host` is refused, and the
 * message shows `imap://user:***@host`).
 */
export function parseStoreSpec(input: string, options: ParseSpecOptions = {}): StoreSpec {
  try {
    return parseStoreSpecText(input, options);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const secrets = findUrlSecrets(input);
    throw new UsageError(maskUrlSecrets(err.message, secrets), err.hint === undefined ? undefined : maskUrlSecrets(err.hint, secrets));
  }
}

function parseStoreSpecText(input: string, options: ParseSpecOptions): StoreSpec {
  if (input.length === 0) throw new UsageError('empty store spec', hint);
  if (input.includes('\u0000')) throw new UsageError('store spec contains a NUL byte', hint);

  if (/^imaps?:\/\//i.test(input)) return parseImap(input);
  if (/^cpmove:/i.test(input)) return parseArchive(input.slice('cpmove:'.length), input, options);
  const prefixed = /^(maildir|mbox|cpanel):/i.exec(input);
  if (prefixed) {
    const kind = prefixed[1]!.toLowerCase() as 'maildir' | 'mbox' | 'cpanel';
    const rest = input.slice(prefixed[0].length);
    if (kind === 'cpanel') return parseCpanel(rest, input, options);
    if (rest === '') throw new UsageError(`"${input}" names no path`, hint);
    const { location, path: p } = parseLocatedPath(rest, input, options);
    return { kind, location, path: p };
  }
  const { location, path: p } = parseLocatedPath(input, input, options);
  return { kind: 'path', location, path: p };
}

/** A local path or an ssh:// URL. */
function parseLocatedPath(text: string, whole: string, options: ParseSpecOptions): { location: Location; path: string } {
  if (/^ssh:\/\//i.test(text)) return parseSshUrl(text, whole);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    throw new UsageError(`unsupported URL scheme in "${whole}"`, hint);
  }
  // scp-style host:path is what rsync itself would read as remote; we require ssh:// so a local file name with a
  // colon can never be mistaken for a host.
  return { location: { type: 'local' }, path: path.resolve(options.cwd ?? process.cwd(), text) };
}

function parseSshUrl(text: string, whole: string): { location: SshLocation; path: string } {
  const afterScheme = text.slice('ssh://'.length);
  const slash = afterScheme.indexOf('/');
  if (slash < 0) throw new UsageError(`"${whole}" names no path on the remote host`, 'write ssh://host/absolute/path');
  const authority = afterScheme.slice(0, slash);
  const rawPath = afterScheme.slice(slash);
  const at = authority.lastIndexOf('@');
  const userPart = at >= 0 ? authority.slice(0, at) : undefined;
  const hostPort = at >= 0 ? authority.slice(at + 1) : authority;
  if (userPart !== undefined && userPart.includes(':')) {
    throw new UsageError(`"${whole}" carries a password`, 'passwords never go on the command line; use an ssh key (--ssh-key FILE)');
  }
  const user = userPart === undefined ? undefined : checkSshUser(userPart, whole);
  const { host, port } = parseHostPort(hostPort, whole);
  // The path is taken verbatim (no %-decoding): people paste paths, and a literal '%' must stay a '%'.
  const normalised = path.posix.normalize(rawPath);
  return {
    location: { type: 'ssh', host, ...(user !== undefined ? { user } : {}), ...(port !== undefined ? { port } : {}) },
    path: normalised.length > 1 ? normalised.replace(/\/+$/, '') : normalised,
  };
}

function parseCpanel(rest: string, whole: string, options: ParseSpecOptions): CpanelSpec {
  const hash = rest.lastIndexOf('#');
  if (hash < 0) throw new UsageError(`"${whole}" names no account`, 'write cpanel:ROOT#USER or cpanel:ROOT#local@domain (ROOT is / on a live server)');
  const rootText = rest.slice(0, hash);
  const who = rest.slice(hash + 1);
  if (rootText === '') throw new UsageError(`"${whole}" names no root`, 'write cpanel:/#USER on a live server, or cpanel:/path/to/root#USER');
  const { location, path: root } = parseLocatedPath(rootText, whole, options);
  const at = who.lastIndexOf('@');
  if (at < 0) return { kind: 'cpanel', location, root, user: checkCpanelUser(who, whole) };
  const localPart = who.slice(0, at);
  const domain = who.slice(at + 1).toLowerCase();
  checkLocalPart(localPart, whole);
  checkDomain(domain, whole);
  // The owning cPanel user is found by discovery (etc/userdomains, the home directories); '' until then.
  return { kind: 'cpanel', location, root, user: '', mailbox: { localPart, domain } };
}

function parseArchive(rest: string, whole: string, options: ParseSpecOptions): ArchiveSpec {
  const hash = rest.lastIndexOf('#');
  const fileText = hash < 0 ? rest : rest.slice(0, hash);
  const who = hash < 0 ? undefined : rest.slice(hash + 1);
  if (fileText === '') throw new UsageError(`"${whole}" names no backup file`, 'write cpmove:/path/to/cpmove-USER.tar.gz, optionally with #local@domain');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(fileText)) {
    throw new UsageError(`"${whole}": a cPanel backup is read from this machine`, 'copy the backup file here first (scp, rsync), then give its local path');
  }
  const location: LocalLocation = { type: 'local' };
  const file = path.resolve(options.cwd ?? process.cwd(), fileText);
  if (who === undefined) return { kind: 'archive', location, path: file };
  const at = who.lastIndexOf('@');
  if (at < 0) return { kind: 'archive', location, path: file, user: checkCpanelUser(who, whole) };
  const localPart = who.slice(0, at);
  const domain = who.slice(at + 1).toLowerCase();
  checkLocalPart(localPart, whole);
  checkDomain(domain, whole);
  return { kind: 'archive', location, path: file, mailbox: { localPart, domain } };
}

function parseImap(input: string): ImapSpec {
  const tls = /^imaps:/i.test(input);
  const afterScheme = input.slice(tls ? 'imaps://'.length : 'imap://'.length);
  const slash = afterScheme.indexOf('/');
  const authority = slash < 0 ? afterScheme : afterScheme.slice(0, slash);
  const mailboxText = slash < 0 ? '' : afterScheme.slice(slash + 1);
  const at = authority.lastIndexOf('@');
  if (at <= 0) throw new UsageError(`"${input}" names no user`, 'write imap://user@host (the password comes from --password-file or an environment variable)');
  const userInfo = authority.slice(0, at);
  // "user:pass@host" is a password on argv: refuse it whatever the user name looks like (before ;AUTH=, which would
  // quote what follows it).
  if (userInfo.includes(':')) {
    throw new UsageError(`"${input}" carries a password`, 'passwords never go on the command line; use --password-file FILE or the environment');
  }
  const authPart = /;auth=([^;]*)$/i.exec(userInfo);
  const userText = authPart ? userInfo.slice(0, authPart.index) : userInfo;
  if (userText === '') throw new UsageError(`"${input}" names no user`, 'write imap://user;AUTH=XOAUTH2@host');
  const auth = authPart ? parseImapAuth(authPart[1]!, input) : undefined;
  const user = decodeURIComponentSafe(userText, input);
  if (/[\u0000-\u001f\u007f]/.test(user)) throw new UsageError(`"${input}": user name contains control characters`);
  const { host, port } = parseHostPort(authority.slice(at + 1), input);
  const mailbox = mailboxText === '' ? undefined : decodeURIComponentSafe(mailboxText, input);
  return { kind: 'imap', tls, user, ...(auth ? { auth } : {}), host, port: port ?? (tls ? 993 : 143), ...(mailbox ? { mailbox } : {}) };
}

function parseImapAuth(text: string, whole: string): ImapAuth | undefined {
  switch (text.toUpperCase()) {
    case '*':
      return undefined;
    case 'PLAIN':
      return 'plain';
    case 'LOGIN':
      return 'login';
    case 'XOAUTH2':
    case 'OAUTHBEARER':
      return 'oauth2';
    default:
      throw new UsageError(
        `"${whole}": mailshift cannot log in with ;AUTH=${text}`,
        'use ;AUTH=XOAUTH2 or ;AUTH=OAUTHBEARER for an OAuth2 access token, ;AUTH=PLAIN or ;AUTH=LOGIN for a password with that mechanism, or no ;AUTH= at all',
      );
  }
}

function parseHostPort(text: string, whole: string): { host: string; port?: number } {
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw new UsageError(`"${whole}": unterminated [IPv6] host`);
    host = text.slice(1, close);
    if (!/^[0-9a-fA-F:.]+$/.test(host) || !host.includes(':')) throw new UsageError(`"${whole}": "${host}" is not an IPv6 address`);
    const after = text.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) throw new UsageError(`"${whole}": unexpected text after [${host}]`);
    portText = after === '' ? undefined : after.slice(1);
  } else {
    const colon = text.indexOf(':');
    host = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? undefined : text.slice(colon + 1);
    // A leading '-' would be read by ssh as an option; anything outside hostname characters has no business here.
    if (!/^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/.test(host)) {
      throw new UsageError(`"${whole}": "${host}" is not a valid host name`, 'host names use letters, digits, "-" and "."; IPv6 addresses go in [brackets]');
    }
  }
  if (portText === undefined) return { host };
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    throw new UsageError(`"${whole}": "${portText}" is not a port number`);
  }
  return { host, port: Number(portText) };
}

function checkSshUser(user: string, whole: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(user)) {
    throw new UsageError(`"${whole}": "${user}" is not a valid ssh user name`);
  }
  return user;
}

function checkCpanelUser(user: string, whole: string): string {
  // cPanel user names are short lowercase words; anything else (/, .., wildcards, spaces) could address a path that
  // is not the account's home directory.
  if (!/^[a-z0-9_][a-z0-9_-]{0,31}$/i.test(user)) {
    throw new UsageError(`"${whole}": "${user}" is not a valid cPanel user name`, 'cPanel user names are letters, digits, "_" and "-"');
  }
  return user;
}

function checkLocalPart(localPart: string, whole: string): void {
  if (localPart === '' || localPart === '.' || localPart === '..' || /[/\\\u0000-\u001f\u007f]/.test(localPart)) {
    throw new UsageError(`"${whole}": "${localPart}" is not a valid mailbox name`);
  }
}

function checkDomain(domain: string, whole: string): void {
  if (!/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/.test(domain)) {
    throw new UsageError(`"${whole}": "${domain}" is not a valid domain`);
  }
}

function decodeURIComponentSafe(text: string, whole: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new UsageError(`"${whole}": bad %-escape`);
  }
}
