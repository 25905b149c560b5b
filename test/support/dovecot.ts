/**
 * Real Dovecot for tests (installed from Debian: dovecot-core + dovecot-imapd; written for the 2.3 configuration
 * syntax, which is what Debian 12 ships — 2.4 renamed most settings and is refused here with a clear error).
 *
 * - createDoveadm(): a standalone `doveadm` (no daemon) with a throwaway config, to read a maildir the code under
 *   test produced, exactly as a Dovecot server would see it.
 * - startImapServer(): a Dovecot IMAP server on 127.0.0.1, on a free port, passwd-file users, plain or TLS.
 *
 * Dovecot refuses to touch mail as root, so mail is accessed as nobody:nogroup (mail_uid/mail_gid,
 * first_valid_uid = 1) and the mail it reads must belong to that user. See README.md in this directory.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile, appendFile } from 'node:fs/promises';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from './ports.js';
import {
  descendantPids,
  registerForExitCleanup,
  runCommand,
  signalPid,
  unregisterForExitCleanup,
  waitForExit,
  type CommandOptions,
  type CommandResult,
} from './process.js';
import { makeTempDir, type TempDir } from './tmp.js';

export type HierarchySeparator = '/' | '.';

export interface NamespaceOptions {
  /** Hierarchy separator clients see. Default '/'. On disk Maildir++ always uses '.' (`.Work.Projects`). */
  readonly separator?: HierarchySeparator;
  /** Namespace prefix, e.g. 'INBOX.' for a cPanel-like server (then use separator '.'). Default ''. */
  readonly prefix?: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Accounts and config text (pure)

interface MailOwner {
  readonly uid: number;
  readonly gid: number;
  readonly userName: string;
  readonly groupName: string;
}

/**
 * nobody and its group, by number: Debian calls the group nogroup, other systems nobody. Numbers in the config
 * avoid depending on the name.
 */
export function mailOwner(): MailOwner {
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n');
  const group = readFileSync('/etc/group', 'utf8').split('\n');
  const nobody = passwd.find((line) => line.startsWith('nobody:'))?.split(':');
  if (!nobody) throw new Error('dovecot test support: no "nobody" user in /etc/passwd; Dovecot needs a non-root mail user');
  const gid = Number(nobody[3]);
  const nogroup = group.find((line) => line.startsWith('nogroup:'))?.split(':') ?? group.find((line) => line.split(':')[2] === String(gid))?.split(':');
  if (!nogroup?.[0]) throw new Error('dovecot test support: no group for the "nobody" user in /etc/group');
  return { uid: Number(nobody[2]), gid: Number(nogroup[2]), userName: 'nobody', groupName: nogroup[0] };
}

/** A config value on one line; Dovecot has no escaping that would make a newline or a quote safe here. */
function configValue(value: string): string {
  if (/[\n\r"]/.test(value)) throw new Error(`dovecot test support: value not allowed in a config: ${JSON.stringify(value)}`);
  return value;
}

/** Dovecot splits mail_location on ':'; a literal colon in a path is written '::'. */
export function maildirLocation(dir: string, options: { index?: string } = {}): string {
  const escaped = dir.replaceAll(':', '::');
  return `maildir:${escaped}${options.index === undefined ? '' : `:INDEX=${options.index.replaceAll(':', '::')}`}`;
}

export type SpecialUseFlag = '\\Sent' | '\\Drafts' | '\\Trash' | '\\Junk' | '\\Archive' | '\\All' | '\\Flagged';

export const defaultSpecialUse: Readonly<Record<string, SpecialUseFlag>> = {
  Drafts: '\\Drafts',
  Sent: '\\Sent',
  Trash: '\\Trash',
  Junk: '\\Junk',
};

export function buildNamespaceBlock(
  namespace: NamespaceOptions,
  specialUse: Readonly<Record<string, SpecialUseFlag>> = {},
  autoCreate = false,
): string {
  const separator = namespace.separator ?? '/';
  const prefix = namespace.prefix ?? '';
  if (prefix !== '' && !prefix.endsWith(separator)) {
    throw new Error(`dovecot test support: namespace prefix "${prefix}" must end with the separator "${separator}"`);
  }
  const lines = ['namespace inbox {', '  inbox = yes', `  separator = ${separator}`];
  if (prefix !== '') lines.push(`  prefix = ${configValue(prefix)}`);
  // Mailbox names here are relative to the namespace: "Sent" is INBOX.Sent under the prefix INBOX.
  for (const [name, flag] of Object.entries(specialUse)) {
    lines.push(`  mailbox "${configValue(name)}" {`, `    special_use = ${flag}`);
    if (autoCreate) lines.push('    auto = subscribe');
    lines.push('  }');
  }
  lines.push('}');
  return lines.join('\n');
}

function buildDoveadmConfig(dir: string, owner: MailOwner, namespace: NamespaceOptions): string {
  return [
    `base_dir = ${configValue(join(dir, 'run'))}`,
    `state_dir = ${configValue(join(dir, 'state'))}`,
    'log_path = /dev/stderr',
    `mail_uid = ${owner.uid}`,
    `mail_gid = ${owner.gid}`,
    'first_valid_uid = 1',
    buildNamespaceBlock(namespace),
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Reading mail through doveadm

export interface MailboxStatus {
  readonly messages: number;
  readonly uidValidity: number;
  readonly uidNext: number;
}

export interface DovecotMessage {
  /** Mailbox name as clients see it (UTF-8, with the namespace separator and prefix). */
  readonly mailbox: string;
  readonly uid: number;
  /** System flags, sorted, without \Recent (a per-session flag, not stored). */
  readonly flags: string[];
  /** Keywords (dovecot-keywords letters resolved to names), sorted. */
  readonly keywords: string[];
  /** INTERNALDATE: the file's mtime for maildir. Unix seconds, free of the machine's time zone. */
  readonly receivedUnix: number;
  /** Message-ID header value, trimmed; '' when the message has none. */
  readonly messageId: string;
  /** size.physical: bytes as stored. */
  readonly sizeBytes: number;
  /** For maildir, the file's base name. */
  readonly guid: string;
  /** SHA-256 of the message bytes, when read with { hashes: true }. */
  readonly sha256?: string;
}

/** How often each Message-ID is in one mailbox (INBOX by default): identical messages counted, never collapsed. */
export function countByMessageId(messages: readonly DovecotMessage[], mailbox = 'INBOX'): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of messages) if (m.mailbox === mailbox) counts[m.messageId] = (counts[m.messageId] ?? 0) + 1;
  return counts;
}

/** One mailbox (INBOX by default) as sorted "Message-ID UID flags" lines: what a client of the server sees. */
export function listUidsAndFlags(messages: readonly DovecotMessage[], mailbox = 'INBOX'): string[] {
  return messages.filter((m) => m.mailbox === mailbox).map((m) => `${m.messageId} ${m.uid} ${m.flags.join(' ')}`).sort();
}

export interface ReadMessagesOptions {
  /** Also hash each message's exact bytes (one doveadm call per message: fine for test-sized mailboxes). */
  readonly hashes?: boolean;
}

/** Read-only view of one mail store through doveadm: a mail_location or a user of a running server. */
export interface MailReader {
  /**
   * `doveadm fetch` with JSON output, one record per message, values as strings keyed by field name.
   * query defaults to ALL; pass search args as separate items: ['mailbox', 'Work/Projects', 'ALL'].
   * JSON is used because the tab format does not escape tabs or newlines in values; JSON escapes them (invalid
   * UTF-8 in a value is replaced by U+FFFD, so use fetchText for bytes).
   */
  fetch(fields: readonly string[] | string, query?: readonly string[]): Promise<Record<string, string>[]>;
  /** The exact bytes of one message. */
  fetchText(mailbox: string, uid: number): Promise<Buffer>;
  /** Per selectable mailbox. Mailboxes that exist only as a parent name (\NonExistent) are left out. */
  mailboxStatus(): Promise<Record<string, MailboxStatus>>;
  /** Every mailbox name Dovecot lists, sorted (including parents such as "Work" of "Work/Projects"). */
  listMailboxes(): Promise<string[]>;
  /** Every message of every mailbox, sorted by mailbox then uid. */
  readMessages(options?: ReadMessagesOptions): Promise<DovecotMessage[]>;
}

type DoveadmRunner = (args: readonly string[], options?: CommandOptions) => Promise<CommandResult>;

function parseJsonArray(text: string, what: string): Record<string, string>[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    throw new Error(`doveadm ${what}: output is not JSON: ${trimmed.slice(0, 200)}`);
  }
  if (!Array.isArray(parsed)) throw new Error(`doveadm ${what}: expected a JSON array`);
  return parsed.map((item: unknown) => {
    if (typeof item !== 'object' || item === null) throw new Error(`doveadm ${what}: expected JSON objects`);
    const record: Record<string, string> = {};
    for (const [key, value] of Object.entries(item)) record[key] = typeof value === 'string' ? value : String(value);
    return record;
  });
}

function toInt(value: string | undefined, field: string): number {
  const number = Number(value);
  if (value === undefined || value === '' || !Number.isSafeInteger(number)) {
    throw new Error(`doveadm: field ${field} is not an integer: ${JSON.stringify(value)}`);
  }
  return number;
}

export function parseFlagList(flags: string): { flags: string[]; keywords: string[] } {
  const words = flags.split(' ').filter((word) => word !== '' && word !== '\\Recent');
  return {
    flags: words.filter((word) => word.startsWith('\\')).sort(),
    keywords: words.filter((word) => !word.startsWith('\\')).sort(),
  };
}

const messageFields = ['mailbox', 'uid', 'guid', 'flags', 'date.received.unixtime', 'size.physical', 'hdr.message-id'];

/**
 * How doveadm picks the store: a global `-o mail_location=...` (before the command) for a standalone read, or the
 * command's `-u USER` for a user of a running server.
 */
interface StoreSelector {
  readonly global: readonly string[];
  readonly command: readonly string[];
}

function makeMailReader(runDoveadm: DoveadmRunner, selector: StoreSelector): MailReader {
  const run = (command: readonly string[], format: 'json' | 'pager'): Promise<CommandResult> =>
    runDoveadm(['-f', format, ...selector.global, ...command.slice(0, 1), ...selector.command, ...command.slice(1)]);

  async function fetch(fields: readonly string[] | string, query: readonly string[] = ['ALL']): Promise<Record<string, string>[]> {
    const fieldText = typeof fields === 'string' ? fields : fields.join(' ');
    // Any non-zero exit is fatal: when a fetch fails half-way doveadm's JSON output loses fields and misaligns.
    const result = await run(['fetch', fieldText, ...query], 'json');
    return parseJsonArray(result.stdout.toString('utf8'), 'fetch');
  }

  async function fetchText(mailbox: string, uid: number): Promise<Buffer> {
    // The pager format prints "text:\n" and then the raw bytes, unescaped: exact for one field of one message.
    const result = await run(['fetch', 'text', 'mailbox', mailbox, 'uid', String(uid)], 'pager');
    const prefix = Buffer.from('text:\n');
    if (!result.stdout.subarray(0, prefix.length).equals(prefix)) {
      throw new Error(`doveadm fetch text: no message ${mailbox} uid ${uid}`);
    }
    return result.stdout.subarray(prefix.length);
  }

  async function listMailboxes(): Promise<string[]> {
    const result = await runDoveadm(['-f', 'json', ...selector.global, 'mailbox', 'list', ...selector.command]);
    return parseJsonArray(result.stdout.toString('utf8'), 'mailbox list')
      .map((record) => record['mailbox'] ?? '')
      .sort();
  }

  async function mailboxStatus(): Promise<Record<string, MailboxStatus>> {
    const result = await runDoveadm(['-f', 'json', ...selector.global, 'mailbox', 'status', ...selector.command, 'messages uidvalidity uidnext', '*']);
    const status: Record<string, MailboxStatus> = {};
    for (const record of parseJsonArray(result.stdout.toString('utf8'), 'mailbox status')) {
      const name = record['mailbox'];
      if (name === undefined) continue;
      status[name] = {
        messages: toInt(record['messages'], 'messages'),
        uidValidity: toInt(record['uidvalidity'], 'uidvalidity'),
        uidNext: toInt(record['uidnext'], 'uidnext'),
      };
    }
    return status;
  }

  async function readMessages(options: ReadMessagesOptions = {}): Promise<DovecotMessage[]> {
    const records = await fetch(messageFields);
    const messages: DovecotMessage[] = [];
    for (const record of records) {
      const mailbox = record['mailbox'] ?? '';
      const uid = toInt(record['uid'], 'uid');
      const message: DovecotMessage = {
        mailbox,
        uid,
        ...parseFlagList(record['flags'] ?? ''),
        receivedUnix: toInt(record['date.received.unixtime'], 'date.received.unixtime'),
        messageId: (record['hdr.message-id'] ?? '').trim(),
        sizeBytes: toInt(record['size.physical'], 'size.physical'),
        guid: record['guid'] ?? '',
      };
      messages.push(
        options.hashes ? { ...message, sha256: createHash('sha256').update(await fetchText(mailbox, uid)).digest('hex') } : message,
      );
    }
    return messages.sort((a, b) => (a.mailbox < b.mailbox ? -1 : a.mailbox > b.mailbox ? 1 : a.uid - b.uid));
  }

  return { fetch, fetchText, listMailboxes, mailboxStatus, readMessages };
}

function makeDoveadmRunner(configPath: string, home: string): DoveadmRunner {
  // A clean environment: HOME and USER are what standalone doveadm uses for "the user"; nothing of the caller's.
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: home, USER: 'mailshift-test', LANG: 'C' };
  return (args, options = {}) => runCommand('doveadm', ['-c', configPath, ...args], { env, timeoutMs: 60_000, ...options });
}

let checkedVersion: string | undefined;

/** Dovecot's version; throws a clear error if it is missing or not the 2.3 series this module writes configs for. */
export async function dovecotVersion(): Promise<string> {
  if (checkedVersion !== undefined) return checkedVersion;
  let output: string;
  try {
    output = (await runCommand('dovecot', ['--version'])).stdout.toString('utf8').trim();
  } catch (error) {
    throw new Error(`Dovecot is not installed (${(error as Error).message}); run: bash scripts/install-test-deps.sh`);
  }
  if (!output.startsWith('2.3.')) {
    throw new Error(`test/support/dovecot.ts writes Dovecot 2.3 configs; found Dovecot ${output} (2.4 renamed the settings)`);
  }
  checkedVersion = output;
  return output;
}

// ---------------------------------------------------------------------------------------------------------------
// Standalone doveadm

export interface DoveadmOptions extends NamespaceOptions {}

export interface OpenMaildirOptions {
  /**
   * Read the tree itself instead of a copy. Dovecot then chowns nothing itself but needs the tree to belong to
   * nobody (this call chowns it) and every parent directory to be traversable by nobody; it also writes
   * dovecot-uidlist (new UIDs, a G header), dovecot-keywords and maildirfolder files into it. Default false: the
   * tree under test is copied (`cp -a`, modes and mtimes kept) and the copy is read, so ownership, modes and
   * Dovecot-written files never leak into the assertions of the test.
   */
  readonly inPlace?: boolean;
}

export interface OpenedMaildir extends MailReader {
  /** The mail_location the reader uses (maildir:COPY:INDEX=MEMORY). */
  readonly location: string;
  /** The directory Dovecot reads: the copy, or the tree itself with inPlace. */
  readonly dir: string;
}

export interface Doveadm {
  /** Temp dir holding the config, base_dir and state_dir; removed by close(). */
  readonly dir: string;
  readonly configPath: string;
  /** Raw doveadm with this config: run(['-o', 'mail_location=...', 'mailbox', 'list']). Throws on non-zero exit. */
  run(args: readonly string[], options?: CommandOptions): Promise<CommandResult>;
  /**
   * Maildir++ tree at dir (INBOX at its root, folders as .Name.Sub) ready to read: copied into the temp dir and
   * chowned to nobody, read with INDEX=MEMORY so no index file is written anywhere. One call = one snapshot.
   */
  openMaildir(dir: string, options?: OpenMaildirOptions): Promise<OpenedMaildir>;
  /** A reader for any mail_location string, used verbatim (ownership is the caller's business). */
  at(mailLocation: string): MailReader;
  fetch(mailLocation: string, fields: readonly string[] | string, query?: readonly string[]): Promise<Record<string, string>[]>;
  fetchText(mailLocation: string, mailbox: string, uid: number): Promise<Buffer>;
  mailboxStatus(mailLocation: string): Promise<Record<string, MailboxStatus>>;
  listMailboxes(mailLocation: string): Promise<string[]>;
  readMessages(mailLocation: string, options?: ReadMessagesOptions): Promise<DovecotMessage[]>;
  close(): Promise<void>;
}

export async function createDoveadm(options: DoveadmOptions = {}): Promise<Doveadm> {
  await dovecotVersion();
  const temp = await makeTempDir('doveadm', { mode: 0o755 });
  const owner = mailOwner();
  try {
    const configPath = join(temp.path, 'dovecot.conf');
    await mkdir(join(temp.path, 'run'));
    await mkdir(join(temp.path, 'state'));
    await mkdir(join(temp.path, 'snapshots'));
    await writeFile(configPath, buildDoveadmConfig(temp.path, owner, options));
    const run = makeDoveadmRunner(configPath, temp.path);
    const at = (mailLocation: string): MailReader => makeMailReader(run, { global: ['-o', `mail_location=${mailLocation}`], command: [] });
    let snapshots = 0;
    return {
      dir: temp.path,
      configPath,
      run,
      at,
      async openMaildir(dir, openOptions = {}) {
        let readDir = dir;
        if (!openOptions.inPlace) {
          snapshots += 1;
          readDir = join(temp.path, 'snapshots', String(snapshots));
          // `cp -a` keeps mtimes (the received date) and copies symlinks as symlinks.
          await runCommand('cp', ['-a', '--', dir, readDir]);
        }
        await runCommand('chown', ['-R', '--no-dereference', `${owner.uid}:${owner.gid}`, '--', readDir]);
        const location = maildirLocation(readDir, { index: 'MEMORY' });
        return { ...at(location), location, dir: readDir };
      },
      fetch: (mailLocation, fields, query) => at(mailLocation).fetch(fields, query),
      fetchText: (mailLocation, mailbox, uid) => at(mailLocation).fetchText(mailbox, uid),
      mailboxStatus: (mailLocation) => at(mailLocation).mailboxStatus(),
      listMailboxes: (mailLocation) => at(mailLocation).listMailboxes(),
      readMessages: (mailLocation, readOptions) => at(mailLocation).readMessages(readOptions),
      close: () => temp.cleanup(),
    };
  } catch (error) {
    await temp.cleanup();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// IMAP server

export type TlsMode = 'none' | 'implicit' | 'starttls';

export interface ImapServerOptions extends NamespaceOptions {
  /** 'none' (plaintext LOGIN allowed), 'implicit' (TLS from the first byte, like port 993) or 'starttls'. true = 'implicit'. */
  readonly tls?: TlsMode | boolean;
  /** SPECIAL-USE mailboxes by name relative to the namespace. Default: Drafts, Sent, Trash, Junk. false: none. */
  readonly specialUse?: Readonly<Record<string, SpecialUseFlag>> | false;
  /** Create and subscribe the special-use mailboxes at first login (Dovecot's auto = subscribe). Default true. */
  readonly autoCreateSpecialUse?: boolean;
  /** Users to create before start: name and optional password (default: `${name}-password`). */
  readonly users?: readonly (string | { readonly user: string; readonly password?: string })[];
  /** Appended verbatim to the config, for a test that needs one more setting. */
  readonly extraConfig?: string;
}

export interface ImapUser {
  readonly user: string;
  readonly password: string;
  readonly home: string;
  /** ~/Maildir: the Maildir++ root Dovecot serves for this user. */
  readonly maildir: string;
  readonly uid: number;
  readonly gid: number;
}

/** Connection settings in the shape imapflow takes (no import here: imapflow belongs to src/stores/imap). */
export interface ImapConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  readonly doSTARTTLS?: boolean;
  readonly auth: { readonly user: string; readonly pass: string };
  readonly tls?: { readonly ca: string };
  readonly logger: false;
}

export interface ImapServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly tls: TlsMode;
  /** PEM of the self-signed server certificate (trust it as a CA); undefined with tls 'none'. */
  readonly caCertPem: string | undefined;
  readonly caCertPath: string | undefined;
  readonly dir: string;
  readonly configPath: string;
  readonly logPath: string;
  readonly pid: number;
  readonly separator: HierarchySeparator;
  readonly prefix: string;
  readonly users: readonly ImapUser[];
  /** Adds a passwd-file user with an empty ~/Maildir; Dovecot picks the change up without a restart. */
  addUser(user: string, password?: string): Promise<ImapUser>;
  /** After a test wrote files into a user's maildir directly: give them to the mail user again. */
  fixOwnership(user: string): Promise<void>;
  connectionOptions(user: string): ImapConnectionOptions;
  /** doveadm -u USER against this server's config and userdb: read the user's mail as Dovecot stores it. */
  mail(user: string): MailReader;
  /** Raw doveadm with this server's config (e.g. ['-u', 'alice', 'mailbox', 'delete', 'Work']). */
  doveadm(args: readonly string[], options?: CommandOptions): Promise<CommandResult>;
  readLog(): Promise<string>;
  /** Stops the server (SIGTERM to the master, SIGKILL after 5 s) and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

function normalizeTls(tls: ImapServerOptions['tls']): TlsMode {
  if (tls === true) return 'implicit';
  if (tls === false || tls === undefined) return 'none';
  return tls;
}

function buildServerConfig(dir: string, port: number, tls: TlsMode, owner: MailOwner, options: ImapServerOptions): string {
  const specialUse = options.specialUse === false ? {} : (options.specialUse ?? defaultSpecialUse);
  const lines = [
    `base_dir = ${configValue(join(dir, 'run'))}`,
    `state_dir = ${configValue(join(dir, 'state'))}`,
    `log_path = ${configValue(join(dir, 'dovecot.log'))}`,
    'protocols = imap',
    'listen = 127.0.0.1',
    `default_login_user = ${owner.userName}`,
    `default_internal_user = ${owner.userName}`,
    `default_internal_group = ${owner.groupName}`,
    'first_valid_uid = 1',
    'mail_location = maildir:~/Maildir',
    'auth_mechanisms = plain login',
    // Parallel copies open several connections per user from one address; the default (10) is a production limit.
    'protocol imap {',
    '  mail_max_userip_connections = 100',
    '}',
    'passdb {',
    '  driver = passwd-file',
    `  args = scheme=PLAIN ${configValue(join(dir, 'passwd'))}`,
    '}',
    'userdb {',
    '  driver = passwd-file',
    `  args = ${configValue(join(dir, 'passwd'))}`,
    '}',
    buildNamespaceBlock(options, specialUse, options.autoCreateSpecialUse ?? true),
  ];
  if (tls === 'none') {
    lines.push('ssl = no', 'disable_plaintext_auth = no');
  } else {
    lines.push('ssl = required', `ssl_cert = <${configValue(join(dir, 'cert.pem'))}`, `ssl_key = <${configValue(join(dir, 'key.pem'))}`);
  }
  // Each setting on its own line: Dovecot rejects `{ chroot = }` on one line. Only loopback, only our port.
  const imapPort = tls === 'implicit' ? 0 : port;
  const imapsPort = tls === 'implicit' ? port : 0;
  lines.push(
    'service imap-login {',
    '  chroot =',
    '  inet_listener imap {',
    '    address = 127.0.0.1',
    `    port = ${imapPort}`,
    '  }',
    '  inet_listener imaps {',
    '    address = 127.0.0.1',
    `    port = ${imapsPort}`,
    ...(tls === 'implicit' ? ['    ssl = yes'] : []),
    '  }',
    '}',
    // Failed logins would slow every later login from 127.0.0.1 for seconds (auth_failure_delay, and anvil's
    // auth penalty, which is off when the auth process cannot reach its socket): tests try wrong passwords.
    'auth_failure_delay = 0',
    'service anvil {',
    '  chroot =',
    '  unix_listener anvil-auth-penalty {',
    '    mode = 0',
    '  }',
    '}',
  );
  if (options.extraConfig) lines.push(options.extraConfig);
  return `${lines.join('\n')}\n`;
}

/** Self-signed certificate for 127.0.0.1 (P-256: generated in milliseconds, unlike RSA). */
async function makeCertificate(dir: string): Promise<void> {
  await runCommand('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  await chmod(join(dir, 'key.pem'), 0o600);
}

/**
 * Resolves when the server sends its real greeting. Dovecot may first say "* OK Waiting for authentication
 * process to respond.." while auth starts; the greeting with "ready" means logins will work.
 */
function waitForGreeting(port: number, tls: TlsMode, caPem: string | undefined, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let socket: Socket;
    let buffered = '';
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    if (tls === 'implicit') {
      socket = connectTls({ host: '127.0.0.1', port, ca: caPem });
    } else {
      socket = connectTcp({ host: '127.0.0.1', port });
    }
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (/^\* OK .*ready\.?\r?$/m.test(buffered)) finish(true);
    });
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(false));
  });
}

const startAttempts = 5;

export async function startImapServer(options: ImapServerOptions = {}): Promise<ImapServer> {
  await dovecotVersion();
  const tls = normalizeTls(options.tls);
  const owner = mailOwner();
  const temp = await makeTempDir('imap', { mode: 0o755 });
  try {
    return await startImapServerIn(temp, tls, owner, options);
  } catch (error) {
    await temp.cleanup();
    throw error;
  }
}

async function startImapServerIn(temp: TempDir, tls: TlsMode, owner: MailOwner, options: ImapServerOptions): Promise<ImapServer> {
  const dir = temp.path;
  const configPath = join(dir, 'dovecot.conf');
  const logPath = join(dir, 'dovecot.log');
  const passwdPath = join(dir, 'passwd');
  await mkdir(join(dir, 'run'));
  await mkdir(join(dir, 'state'));
  await mkdir(join(dir, 'home'));
  await writeFile(passwdPath, '');
  let caCertPem: string | undefined;
  if (tls !== 'none') {
    await makeCertificate(dir);
    caCertPem = await readFile(join(dir, 'cert.pem'), 'utf8');
  }

  const users: ImapUser[] = [];
  async function addUser(user: string, password = `${user}-password`): Promise<ImapUser> {
    if (!/^[A-Za-z0-9._@+-]+$/.test(user)) throw new Error(`imap test server: unsupported user name ${JSON.stringify(user)}`);
    if (/[:\n]/.test(password)) throw new Error('imap test server: a passwd-file password cannot contain ":" or a newline');
    const home = join(dir, 'home', user);
    const maildir = join(home, 'Maildir');
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(maildir, sub), { recursive: true });
    await runCommand('chown', ['-R', `${owner.uid}:${owner.gid}`, '--', home]);
    await appendFile(passwdPath, `${user}:{PLAIN}${password}:${owner.uid}:${owner.gid}::${home}\n`);
    const created: ImapUser = { user, password, home, maildir, uid: owner.uid, gid: owner.gid };
    users.push(created);
    return created;
  }
  for (const entry of options.users ?? []) {
    if (typeof entry === 'string') await addUser(entry);
    else await addUser(entry.user, entry.password);
  }

  let lastFailure = '';
  for (let attempt = 1; attempt <= startAttempts; attempt += 1) {
    const port = await freePort();
    await writeFile(configPath, buildServerConfig(dir, port, tls, owner, options));
    const stderr: Buffer[] = [];
    const child: ChildProcess = spawn('dovecot', ['-F', '-c', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    const pid = child.pid;
    if (pid === undefined) throw new Error('imap test server: dovecot did not start');
    registerForExitCleanup(pid, () => killTreeNow(pid));
    const started = await Promise.race([
      waitForGreetingLoop(port, tls, caCertPem, 15_000),
      new Promise<false>((resolve) => child.once('exit', () => resolve(false))),
    ]);
    if (started) return makeServer({ temp, child, pid, port, tls, caCertPem, configPath, logPath, users, addUser, owner, options });
    const log = await readFile(logPath, 'utf8').catch(() => '');
    lastFailure = `${Buffer.concat(stderr).toString('utf8')}\n${log}`.trim();
    await stopDovecot(child, pid);
    unregisterForExitCleanup(pid);
    if (!/Address already in use/i.test(lastFailure)) break;
  }
  throw new Error(`imap test server: dovecot did not start:\n${lastFailure.split('\n').slice(-20).join('\n')}`);
}

async function waitForGreetingLoop(port: number, tls: TlsMode, caPem: string | undefined, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await waitForGreeting(port, tls, caPem, Math.max(100, deadline - Date.now()))) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

function killTreeNow(pid: number): void {
  const tree = [pid, ...descendantPids(pid)];
  for (const each of tree) signalPid(each, 'SIGKILL');
}

/**
 * SIGTERM to the master is what `doveadm stop` sends; sending it ourselves saves doveadm's polling (about 1.5 s per
 * stop here). The master then stops its children; SIGKILL of the whole tree if that takes more than 5 s.
 */
async function stopDovecot(child: ChildProcess, pid: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    killTreeNow(pid);
    return;
  }
  const children = descendantPids(pid);
  signalPid(pid, 'SIGTERM');
  if (!(await waitForExit(child, 5_000))) killTreeNow(pid);
  for (const each of children) signalPid(each, 'SIGKILL');
}

interface ServerParts {
  readonly temp: TempDir;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly tls: TlsMode;
  readonly caCertPem: string | undefined;
  readonly configPath: string;
  readonly logPath: string;
  readonly users: ImapUser[];
  readonly addUser: (user: string, password?: string) => Promise<ImapUser>;
  readonly owner: MailOwner;
  readonly options: ImapServerOptions;
}

function makeServer(parts: ServerParts): ImapServer {
  const { temp, child, pid, port, tls, caCertPem, configPath, logPath, users, owner, options } = parts;
  const run = makeDoveadmRunner(configPath, temp.path);
  let stopped: Promise<void> | undefined;
  const findUser = (name: string): ImapUser => {
    const found = users.find((each) => each.user === name);
    if (!found) throw new Error(`imap test server: no user ${name}`);
    return found;
  };
  return {
    host: '127.0.0.1',
    port,
    tls,
    caCertPem,
    caCertPath: caCertPem === undefined ? undefined : join(temp.path, 'cert.pem'),
    dir: temp.path,
    configPath,
    logPath,
    pid,
    separator: options.separator ?? '/',
    prefix: options.prefix ?? '',
    users,
    addUser: parts.addUser,
    async fixOwnership(user) {
      await runCommand('chown', ['-R', '--no-dereference', `${owner.uid}:${owner.gid}`, '--', findUser(user).home]);
    },
    connectionOptions(user) {
      const { password } = findUser(user);
      return {
        host: '127.0.0.1',
        port,
        secure: tls === 'implicit',
        ...(tls === 'starttls' ? { doSTARTTLS: true } : {}),
        auth: { user, pass: password },
        ...(caCertPem === undefined ? {} : { tls: { ca: caCertPem } }),
        logger: false,
      };
    },
    mail: (user) => makeMailReader(run, { global: [], command: ['-u', user] }),
    doveadm: run,
    readLog: () => readFile(logPath, 'utf8'),
    stop() {
      stopped ??= (async () => {
        await stopDovecot(child, pid);
        unregisterForExitCleanup(pid);
        await temp.cleanup();
      })();
      return stopped;
    },
  };
}
