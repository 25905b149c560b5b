import type { ImapFlow } from 'imapflow';
import { formatQuoted } from './append-command.js';

/**
 * imapflow's session set-up without the round trips it spends on what this driver never uses. Before the first folder
 * is opened a login is nothing but round trips, each one a full trip over the network (40 ms on the benchmark's
 * link), and a second run with nothing new is little more than a login: imapflow 2.10 sent ID before LOGIN and, when
 * the answer named fewer than two fields (Dovecot's names one), ID again after it; AUTHENTICATE PLAIN waiting for the
 * server's "+" before the credentials; ENABLE; NAMESPACE on a round trip of its own; and LSUB whenever LIST found no
 * subscribed folder. What is left of imapflow's set-up is LOGIN. The store asks for the namespace and the folders
 * (with each folder's UIDNEXT and UIDVALIDITY where LIST-STATUS is offered) together, in one round trip, on the raw
 * session (folder-list.ts); ID goes with them, or with a connection's first EXAMINE (mailbox.ts; some servers,
 * NetEase's, refuse to select a folder for a client that did not say who it is), or before IDLE's (identifyOnce).
 *
 * imapflow has no options for these, so its internal `run` is wrapped per connection: the one place that depends on
 * imapflow's inside (`run`, `skipLsub`, `authenticated`), which is why the version is pinned in package.json, and the
 * integration tests log in to a real Dovecot through it (test/integration/imap/round-trips.test.ts counts the trips).
 */

/** What a wrapped command becomes: sent (perhaps as another command), or answered here without a round trip. */
export type SetupDecision =
  | { readonly send: true; readonly command: string; readonly args: readonly unknown[]; readonly reason?: string }
  | { readonly send: false; readonly result: unknown; readonly reason: string };

export interface SetupState {
  /** Logged in yet (imapflow's `authenticated`). */
  readonly isAuthenticated: boolean;
  /** What the server offers, upper case. */
  readonly capabilities: ReadonlySet<string>;
}

/** Extensions imapflow's ENABLE asks for that this driver gets otherwise: CONDSTORE rides on the first EXAMINE. */
const enabledByExamine = new Set(['CONDSTORE']);

/**
 * Decides what one of imapflow's set-up commands becomes. Pure; every other command is sent as it is.
 *
 * - ID: not sent by imapflow, before login or after: it rides with the connection's first EXAMINE (formatIdCommand)
 *   and costs no round trip of its own; the client's name never goes out before authentication. Nothing here reads
 *   the server's answer.
 * - AUTHENTICATE with a password, when the URL named no mechanism: LOGIN, which carries the same credentials in one
 *   round trip instead of two (imapflow does not use SASL-IR), unless the server says LOGINDISABLED or the user name
 *   or password is not printable ASCII (a quoted string cannot carry it). A mechanism the
 *   URL named (;AUTH=PLAIN, ;AUTH=LOGIN) and OAuth2 tokens go as imapflow sends them.
 * - ENABLE: CONDSTORE left out (the first EXAMINE asks for it, RFC 7162 §3.1.8); not sent at all when nothing else
 *   it names is offered (UTF8=ACCEPT and IMAP4rev2 still are, where offered).
 * - STATUS: imapflow's fallback of one STATUS per folder when LIST-STATUS was asked for and not answered inline: not
 *   sent (a round trip per folder costs more than the EXAMINE it would save); such folders are simply EXAMINEd.
 * - NAMESPACE: not sent by imapflow. The store's first connection asks for it beside its LIST (folder-list.ts); the
 *   others never need it (every folder name they send is whole, prefix included, which imapflow leaves as it is).
 *   Exchange's "User is authenticated but not connected", which imapflow read from NAMESPACE's answer, is read by
 *   errors.ts wherever it comes.
 */
export function decideSetupCommand(command: string, args: readonly unknown[], state: SetupState): SetupDecision {
  const name = command.toUpperCase();
  if (name === 'ID') return { send: false, result: undefined, reason: 'ID is sent with the first EXAMINE' };
  if (name === 'AUTHENTICATE') {
    const credentials = args[1] as { password?: unknown; loginMethod?: unknown; accessToken?: unknown } | undefined;
    const isPlainPassword = typeof credentials?.password === 'string' && !credentials.accessToken && !credentials.loginMethod;
    // LOGIN sends both as quoted strings, which IMAP4rev1 keeps to 7-bit ASCII: a user name or password with other
    // characters (an umlaut, a control character) goes by AUTHENTICATE PLAIN, whose base64 carries any UTF-8.
    const isQuotable = (value: unknown) => typeof value === 'string' && /^[\x20-\x7e]*$/.test(value);
    if (isPlainPassword && isQuotable(args[0]) && isQuotable(credentials.password) && !state.capabilities.has('LOGINDISABLED')) {
      return { send: true, command: 'LOGIN', args: [args[0], credentials.password], reason: 'LOGIN: the credentials in one round trip' };
    }
  }
  if (name === 'ENABLE') {
    const wanted = Array.isArray(args[0]) ? (args[0] as unknown[]).filter((each): each is string => typeof each === 'string') : [];
    const rest = wanted.filter((extension) => !enabledByExamine.has(extension.toUpperCase()) && state.capabilities.has(extension.toUpperCase()));
    if (rest.length === 0) return { send: false, result: new Set<string>(), reason: 'nothing to ENABLE but CONDSTORE, which EXAMINE asks for' };
    return { send: true, command: 'ENABLE', args: [rest, ...args.slice(1)] };
  }
  if (name === 'STATUS') return { send: false, result: undefined, reason: 'no STATUS per folder: the folder is EXAMINEd when opened' };
  if (name === 'NAMESPACE') return { send: false, result: undefined, reason: 'NAMESPACE is asked for beside the first LIST' };
  return { send: true, command, args };
}

/** The ID command (RFC 2971) this client sends, without its tag: name and version, nothing about the machine. */
export function formatIdCommand(clientVersion: string): string {
  return `ID ("name" "mailshift" "version" ${formatQuoted(clientVersion.replace(/[\r\n\u0000]/g, ' '))})`;
}

/** The parts of imapflow's instance this module uses; not in its types. */
interface ImapFlowInside {
  run(command: string, ...args: unknown[]): Promise<unknown>;
  skipLsub: boolean;
  authenticated: unknown;
  capabilities: Map<string, unknown>;
}

/** imapflow's own `run` of a wrapped client, and whether it sent ID yet (identifyOnce). */
interface WrappedClient {
  readonly run: ImapFlowInside['run'];
  isIdentified: boolean;
}

const unwrapped = new WeakMap<ImapFlow, WrappedClient>();

/**
 * Sends ID over imapflow, once per connection: for a connection imapflow still drives when it selects a folder
 * (IDLE), which the first-EXAMINE ID of the raw sessions does not cover. A refusal is not an error.
 */
export async function identifyOnce(client: ImapFlow, clientVersion: string): Promise<void> {
  const original = unwrapped.get(client);
  if (!original || original.isIdentified || !client.capabilities.has('ID')) return;
  original.isIdentified = true;
  await original.run('ID', { name: 'mailshift', version: clientVersion }).catch(() => undefined);
}

/** Wraps the client's set-up commands as decideSetupCommand says, before it connects. */
export function trimSessionSetup(client: ImapFlow): void {
  const inside = client as unknown as ImapFlowInside;
  const run = inside.run.bind(client);
  const state: WrappedClient = { run, isIdentified: false };
  unwrapped.set(client, state);
  // Subscriptions do not decide what is copied: LIST's answer is enough.
  inside.skipLsub = true;
  inside.run = async (command: string, ...args: unknown[]) => {
    const decision = decideSetupCommand(command, args, {
      isAuthenticated: Boolean(inside.authenticated),
      capabilities: new Set([...inside.capabilities.keys()].map((each) => each.toUpperCase())),
    });
    if (!decision.send) return decision.result;
    return run(decision.command, ...decision.args);
  };
}
