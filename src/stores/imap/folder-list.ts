import { specialUse as guessSpecialUse } from 'imapflow/lib/special-use.js';
import { decodeListedName, type ImapNamespace } from '../../../converters/folders/imap-mapping.js';
import { classifyImapError } from './errors.js';
import type { ListedFolderEntry } from './listed-folders.js';
import { toFailure, type RawImapSession, type RawSessionFailure, type TaggedAnswer } from './raw-session.js';
import { ImapProtocolError, readResponseValues, type RawResponse, type ResponseValue } from './response-framer.js';

/**
 * The account's namespace and folder list as the raw session reads them (store.ts), NAMESPACE and LIST sent together
 * in one round trip. imapflow sends one command at a time, and its LIST starts from the namespace's prefix, so over
 * imapflow the two cost two round trips: on a second run with nothing new that is a quarter of the whole run.
 *
 * What imapflow did with these answers and the store read is kept (its LIST entries, its namespace rules, its choice
 * of special-use folders); what the store never read is left out: subscriptions, CHILDREN, XLIST (servers old
 * enough to offer XLIST and not SPECIAL-USE get their special folders by name, as any other without SPECIAL-USE).
 * The LIST starts from the root ("" "*") since the prefix is not known when it is sent; planListedFolders keeps the
 * folders under the personal prefix, as before. The parsing is pure; readNamespaceAndFolders sends the commands.
 */

/** As imapflow: more LIST entries than this is a broken or hostile server, not an account. */
const maxListedFolders = 1_000_000;

/** A response's kind: `* NAMESPACE ...` -> NAMESPACE; undefined for tagged, continuation and numbered responses. */
export function untaggedKind(response: RawResponse): string | undefined {
  const match = /^\* ([A-Za-z-]+)(?: |$)/.exec(response.texts[0] ?? '');
  return match ? match[1]!.toUpperCase() : undefined;
}

/**
 * The LIST command of a listing: every folder from the root, with each folder's UIDNEXT and UIDVALIDITY (and
 * HIGHESTMODSEQ where CONDSTORE is offered) where LIST-STATUS is offered and `withStatus` asks, and the special-use
 * attributes where the server offers SPECIAL-USE with extended LIST. `plain`: the bare LIST, for a server that
 * refused the options.
 */
export function buildListCommand(capabilities: ReadonlySet<string>, options: { readonly withStatus: boolean; readonly plain?: boolean }): string {
  const returns: string[] = [];
  const isExtended = capabilities.has('LIST-EXTENDED') || capabilities.has('LIST-STATUS');
  if (!options.plain && options.withStatus && capabilities.has('LIST-STATUS')) {
    const withModseq = capabilities.has('CONDSTORE') || capabilities.has('QRESYNC');
    returns.push(`STATUS (UIDNEXT UIDVALIDITY${withModseq ? ' HIGHESTMODSEQ' : ''})`);
  }
  if (!options.plain && isExtended && capabilities.has('SPECIAL-USE')) returns.push('SPECIAL-USE');
  return `LIST "" "*"${returns.length > 0 ? ` RETURN (${returns.join(' ')})` : ''}`;
}

/** A string value as text: quoted strings and literals as UTF-8 (as imapflow read them), atoms as sent. */
function asText(value: ResponseValue | undefined): string | undefined {
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'string') return Buffer.from(value, 'latin1').toString('utf8');
  return undefined;
}

/** A namespace's prefix and delimiter, imapflow's way: the prefix ends with the delimiter. */
function endWithDelimiter(prefix: string, delimiter: string | null): { prefix: string; delimiter: string | null } {
  return { prefix: delimiter && prefix && !prefix.endsWith(delimiter) ? prefix + delimiter : prefix, delimiter };
}

/** The (prefix, delimiter) pairs of one section of a NAMESPACE response, each prefix ending with its delimiter. */
function readNamespaceSection(section: ResponseValue | undefined): { prefix: string; delimiter: string | null }[] {
  if (!Array.isArray(section)) return [];
  const pairs: { prefix: string; delimiter: string | null }[] = [];
  for (const entry of section) {
    if (!Array.isArray(entry) || entry.length < 2) continue;
    const prefix = asText(entry[0]);
    const delimiter = entry[1] === null ? null : asText(entry[1]);
    if (prefix === undefined || delimiter === undefined) continue;
    pairs.push(endWithDelimiter(prefix, delimiter));
  }
  return pairs;
}

/**
 * A `* NAMESPACE` response (RFC 2342): the personal namespace, its first entry (a NIL or empty personal section reads
 * as prefix "" and delimiter ".", imapflow's default; a NIL delimiter, a flat namespace, is null), and the prefixes
 * of the other users' and shared namespaces, whose folders are not this account's.
 */
export function parseNamespaceResponse(response: RawResponse): { personal: { prefix: string; delimiter: string | null }; foreignPrefixes: string[] } {
  const [personal, otherUsers, shared] = readResponseValues(response, '* NAMESPACE '.length);
  return {
    personal: readNamespaceSection(personal)[0] ?? { prefix: '', delimiter: '.' },
    foreignPrefixes: [...readNamespaceSection(otherUsers), ...readNamespaceSection(shared)].map((each) => each.prefix),
  };
}

/**
 * The namespace from the answer to `LIST "" ""` (RFC 3501 §6.3.8), for a server without NAMESPACE: the root's name
 * (without a leading delimiter) is the prefix, as imapflow read it.
 */
export function parseRootListResponse(response: RawResponse): { prefix: string; delimiter: string | null } {
  const entry = parseListResponse(response);
  const delimiter = entry.delimiter || null;
  let prefix = entry.name;
  if (delimiter && prefix.startsWith(delimiter)) prefix = prefix.slice(1);
  return endWithDelimiter(prefix, delimiter);
}

/** The store's namespace from the personal one: no delimiter reads as "/" (as store.ts always did). */
export function toImapNamespace(personal: { prefix: string; delimiter: string | null } | undefined): ImapNamespace {
  return { prefix: personal?.prefix ?? '', delimiter: personal?.delimiter ?? '/' };
}

export interface ParsedListEntry {
  readonly flags: string[];
  readonly delimiter: string | null;
  /** The name as the server sent it (modified UTF-7 unless the session is UTF-8). */
  readonly name: string;
}

/** One `* LIST (flags) delimiter name [extended data]` response. Throws ImapProtocolError when it is not one. */
export function parseListResponse(response: RawResponse): ParsedListEntry {
  const [flags, delimiter, name] = readResponseValues(response, '* LIST '.length);
  const text = asText(name ?? undefined);
  if (!Array.isArray(flags) || text === undefined || (delimiter !== null && asText(delimiter) === undefined)) {
    throw new ImapProtocolError(`bad LIST response: ${(response.texts[0] ?? '').slice(0, 200)}`);
  }
  return { flags: flags.map((flag) => asText(flag) ?? '').filter(Boolean), delimiter: delimiter === null ? null : asText(delimiter)!, name: text };
}

/** One `* STATUS name (item value ...)` response: the folder's name as sent and its numbers. Undefined when unreadable. */
export function parseStatusResponse(response: RawResponse): { name: string; items: Map<string, number> } | undefined {
  const [name, list] = readResponseValues(response, '* STATUS '.length);
  const text = asText(name ?? undefined);
  if (text === undefined || !Array.isArray(list)) return undefined;
  const items = new Map<string, number>();
  for (let at = 0; at + 1 < list.length; at += 2) {
    const key = asText(list[at]);
    const value = Number(asText(list[at + 1]));
    if (key !== undefined && Number.isSafeInteger(value)) items.set(key.toUpperCase(), value);
  }
  return { name: text, items };
}

/** INBOX in any case is INBOX (RFC 3501 §5.1). */
function normalizeInbox(name: string): string {
  return name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
}

/**
 * The LIST and STATUS answers as the folder planner reads them (listed-folders.ts), each folder once, with its status
 * and the special-use role imapflow would have given it: the server's attribute first, else a known name (INBOX,
 * "Sent Items", "Papierkorb"...), one folder per role, ranked as imapflow ranks them (attribute before name, shallower
 * before deeper, then by name).
 */
export function buildListedEntries(
  lists: readonly ParsedListEntry[],
  statuses: readonly { name: string; items: Map<string, number> }[],
  options: { readonly isUtf8: boolean; readonly hasSpecialUse: boolean },
): ListedFolderEntry[] {
  if (lists.length > maxListedFolders) throw new ImapProtocolError(`LIST returned more than ${maxListedFolders} folders`);
  const statusByName = new Map(statuses.map((each) => [normalizeInbox(each.name), each.items]));
  const sourceOrder = ['extension', 'name', 'name-guess'];
  const candidates: { role: string; source: string; depth: number; path: string; at: number }[] = [];
  const entries = lists.map((listed, at): { path: string; pathAsListed: string; flags: Set<string>; specialUse?: string; status?: ListedFolderEntry['status'] } => {
    const flags = new Set(listed.flags);
    const isNonExistent = [...flags].some((flag) => flag.toLowerCase() === '\\nonexistent');
    if (isNonExistent) flags.add('\\Noselect');
    let path: string;
    try {
      path = decodeListedName(listed.name, options.isUtf8);
    } catch {
      path = listed.name;
    }
    path = normalizeInbox(path);
    if (listed.delimiter && path.startsWith(listed.delimiter)) path = path.slice(1);
    const levels = listed.delimiter ? path.split(listed.delimiter) : [path];
    const name = levels.pop() ?? '';
    if (path === 'INBOX' && !isNonExistent) candidates.push({ role: '\\Inbox', source: 'name', depth: levels.length, path, at });
    const guessed = guessSpecialUse(options.hasSpecialUse, { flags, name });
    if (guessed.flag && guessed.source && (guessed.source === 'extension' || !isNonExistent)) {
      candidates.push({ role: guessed.flag, source: guessed.source, depth: levels.length, path, at });
    }
    const items = statusByName.get(normalizeInbox(listed.name));
    const status = items ? { uidNext: items.get('UIDNEXT'), uidValidity: items.get('UIDVALIDITY'), highestModseq: items.get('HIGHESTMODSEQ') } : undefined;
    return { path, pathAsListed: listed.name, flags, ...(status ? { status } : {}) };
  });
  candidates.sort((a, b) => sourceOrder.indexOf(a.source) - sourceOrder.indexOf(b.source) || a.depth - b.depth || a.path.localeCompare(b.path));
  const assigned = new Set<string>();
  for (const candidate of candidates) {
    const entry = entries[candidate.at]!;
    if (assigned.has(candidate.role) || entry.specialUse) continue;
    entry.specialUse = candidate.role;
    assigned.add(candidate.role);
  }
  return entries;
}

/** The personal namespace as read on the connection, and how long its answer took (a sample of the link's round trip). */
export interface NamespaceRead {
  readonly namespace: ImapNamespace;
  /** The prefixes of the other users' and shared namespaces (empty without NAMESPACE). */
  readonly foreignPrefixes: readonly string[];
  readonly roundTripMs: number;
}

/** The folders as listed, or why the LIST failed (a tagged NO/BAD or a broken connection, as errors.ts classifies). */
export type ListingRead = { readonly entries: ListedFolderEntry[] } | { readonly error: RawSessionFailure };

/**
 * Reads the namespace and the folders over a raw session: ID (when given), NAMESPACE and LIST in one round trip,
 * where the server offers NAMESPACE; without it `LIST "" ""` names the root first, then the LIST follows (a server
 * might answer two LISTs sent together interleaved). The namespace settles as soon as its answer is in, the listing
 * once the LIST is; a LIST refused (BAD) for its RETURN options is sent again without them.
 *
 * `namespace` rejects only when the server says the login did not take (errors.ts: Exchange's "User is authenticated
 * but not connected", answered to every command after a LOGIN it accepted), or the connection failed before the
 * answer.
 */
export function readNamespaceAndFolders(
  raw: RawImapSession,
  options: { readonly capabilities: ReadonlySet<string>; readonly withStatus: boolean; readonly isUtf8: boolean; readonly idCommand?: string },
): { namespace: Promise<NamespaceRead>; listing: Promise<ListingRead> } {
  const { capabilities } = options;
  const hasNamespace = capabilities.has('NAMESPACE');
  const namespaceCommand = hasNamespace ? 'NAMESPACE' : 'LIST "" ""';
  let personal: { prefix: string; delimiter: string | null } | undefined;
  let foreignPrefixes: string[] = [];
  const lists: ParsedListEntry[] = [];
  const statuses: { name: string; items: Map<string, number> }[] = [];
  let malformed: ImapProtocolError | undefined;
  /** Until the namespace command is answered its LIST answer is the root's; after, each LIST answer is a folder. */
  let isNamespaceAnswered = false;
  const onUntagged = (response: RawResponse) => {
    try {
      const kind = untaggedKind(response);
      if (kind === 'NAMESPACE') ({ personal, foreignPrefixes } = parseNamespaceResponse(response));
      else if (kind === 'LIST' && !hasNamespace && !isNamespaceAnswered) personal = parseRootListResponse(response);
      else if (kind === 'LIST') lists.push(parseListResponse(response));
      else if (kind === 'STATUS') {
        const status = parseStatusResponse(response);
        if (status) statuses.push(status);
      }
    } catch (err) {
      if (!(err instanceof ImapProtocolError)) throw err;
      malformed ??= err;
    }
  };
  const listCommand = buildListCommand(capabilities, { withStatus: options.withStatus });
  const plainListCommand = buildListCommand(capabilities, { withStatus: false, plain: true });
  const head = options.idCommand ? [options.idCommand] : [];
  let settleNamespace!: (read: NamespaceRead) => void;
  let failNamespace!: (err: unknown) => void;
  const namespace = new Promise<NamespaceRead>((resolve, reject) => {
    settleNamespace = resolve;
    failNamespace = reject;
  });
  const sentAt = performance.now();
  const onNamespaceAnswer = (answer: TaggedAnswer) => {
    isNamespaceAnswered = true;
    if (answer.status === 'BYE') return failNamespace(toFailure(answer.text, undefined, 'BYE'));
    // A refusal that says the login did not take (errors.ts knows Exchange's words for it) fails the login.
    const refusal = toFailure(answer.text, undefined, answer.status);
    if (answer.status !== 'OK' && classifyImapError(refusal).kind === 'auth') return failNamespace(refusal);
    // A NAMESPACE refused leaves the store's default; one answered without its untagged response reads as a NIL
    // personal namespace: both as imapflow had them.
    const isAnswered = answer.status === 'OK';
    const answered = personal ?? (hasNamespace ? { prefix: '', delimiter: '.' } : undefined);
    settleNamespace({ namespace: toImapNamespace(isAnswered ? answered : undefined), foreignPrefixes: isAnswered ? foreignPrefixes : [], roundTripMs: performance.now() - sentAt });
  };
  const listing = (async (): Promise<ListingRead> => {
    let answers: TaggedAnswer[];
    if (hasNamespace) {
      answers = await raw.runTogether([...head, namespaceCommand, listCommand], onUntagged, (index, answer) => {
        if (index === head.length) onNamespaceAnswer(answer);
      });
    } else {
      const first = await raw.runTogether([...head, namespaceCommand], onUntagged);
      onNamespaceAnswer(first.at(-1)!);
      answers = [...first, ...(await raw.runTogether([listCommand], onUntagged))];
    }
    let answer = answers.at(-1)!;
    if (answer.status === 'BAD' && listCommand !== plainListCommand) {
      lists.length = 0;
      statuses.length = 0;
      answer = (await raw.runTogether([plainListCommand], onUntagged))[0]!;
    }
    if (answer.status !== 'OK') return { error: toFailure(answer.text, answer.status === 'BYE' ? 'EConnectionClosed' : undefined, answer.status) };
    if (malformed) return { error: toFailure(malformed.message, 'EPROTOCOL') };
    try {
      return { entries: buildListedEntries(lists, statuses, { isUtf8: options.isUtf8, hasSpecialUse: capabilities.has('SPECIAL-USE') }) };
    } catch (err) {
      return { error: toFailure(err instanceof Error ? err.message : String(err), 'EPROTOCOL') };
    }
  })();
  // The listing settles the namespace too, should its answer never have come (the session failed before it).
  void listing.then(() => failNamespace(toFailure('the connection closed before NAMESPACE was answered', 'EConnectionClosed')));
  return { namespace, listing };
}
