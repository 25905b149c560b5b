import type { SystemFlag } from '../flags.js';

/**
 * Maildir file names: `<base>[:2,<info>]`, where base may carry `,S=<size>` and `,W=<vsize>` (Dovecot reads them to
 * skip stat()). The base name (everything before ':') is a message's identity inside a maildir: flags live after
 * ':2,', so a flag change renames the file but keeps the base. See shared/reference/maildir-format.md §1.
 */

export interface MaildirName {
  /** Everything before ':' — stable across flag changes. */
  readonly base: string;
  /** System flag letters (D F P R S T) and keyword letters (a-z), as found; undefined when there is no ':2,' part. */
  readonly info?: string;
  readonly sizeBytes?: number;
  readonly virtualSizeBytes?: number;
}

export function parseMaildirName(fileName: string): MaildirName {
  const colon = fileName.indexOf(':');
  // Some tools on filesystems without ':' write '!' or ';' instead; we accept ':' only, as Dovecot does by default.
  const base = colon < 0 ? fileName : fileName.slice(0, colon);
  let info: string | undefined;
  if (colon >= 0) {
    const rest = fileName.slice(colon + 1);
    info = rest.startsWith('2,') ? rest.slice(2) : undefined;
  }
  const sizeMatch = /,S=(\d+)/.exec(base);
  const vsizeMatch = /,W=(\d+)/.exec(base);
  return {
    base,
    ...(info !== undefined ? { info } : {}),
    ...(sizeMatch ? { sizeBytes: Number(sizeMatch[1]) } : {}),
    ...(vsizeMatch ? { virtualSizeBytes: Number(vsizeMatch[1]) } : {}),
  };
}

/** The identity of a maildir message: the part of its file name before ':'. */
export function maildirBaseName(fileName: string): string {
  const colon = fileName.indexOf(':');
  return colon < 0 ? fileName : fileName.slice(0, colon);
}

const flagToLetter: Record<SystemFlag, string> = {
  '\\Draft': 'D',
  '\\Flagged': 'F',
  '\\Answered': 'R',
  '\\Seen': 'S',
  '\\Deleted': 'T',
};
const letterToFlag: Record<string, SystemFlag> = { D: '\\Draft', F: '\\Flagged', R: '\\Answered', S: '\\Seen', T: '\\Deleted' };

/** Keyword 'P' (passed) has no IMAP system flag: Dovecot keeps it in the name; we carry it as $Forwarded. */
export const passedKeyword = '$Forwarded';

export interface DecodedInfo {
  readonly flags: Set<SystemFlag>;
  /** Keyword indexes 0..25 from letters a..z; resolve names through dovecot-keywords. */
  readonly keywordIndexes: number[];
  readonly hasPassed: boolean;
  /** Letters we do not know, kept so a rename can preserve them. */
  readonly unknown: string;
}

export function decodeInfo(info: string | undefined): DecodedInfo {
  const flags = new Set<SystemFlag>();
  const keywordIndexes: number[] = [];
  let hasPassed = false;
  let unknown = '';
  // Anything after a further ',' is a non-standard field Dovecot leaves alone (maildir-format.md §1.4).
  const letters = (info ?? '').split(',')[0] ?? '';
  for (const letter of letters) {
    const flag = letterToFlag[letter];
    if (flag) flags.add(flag);
    else if (letter === 'P') hasPassed = true;
    else if (letter >= 'a' && letter <= 'z') keywordIndexes.push(letter.charCodeAt(0) - 97);
    else unknown += letter;
  }
  return { flags, keywordIndexes, hasPassed, unknown };
}

/** The keyword names an info part carries: its letters resolved through the folder's dovecot-keywords, plus P. */
export function resolveKeywords(info: DecodedInfo, table: ReadonlyMap<number, string>): Set<string> {
  const keywords = new Set<string>();
  for (const index of info.keywordIndexes) {
    const keyword = table.get(index);
    if (keyword) keywords.add(keyword);
  }
  if (info.hasPassed) keywords.add(passedKeyword);
  return keywords;
}

/** Builds the letters after ':2,' sorted by byte value, as the spec and Dovecot require. */
export function formatInfo(flags: Iterable<SystemFlag>, keywordIndexes: Iterable<number>, options: { passed?: boolean } = {}): string {
  // Letters as bits of two masks (upper-case flags, lower-case keywords), read out in byte order: no Set, array
  // or sort per message (this runs for every message a conversion writes).
  let upper = 0;
  let lower = 0;
  for (const flag of flags) upper |= 1 << (flagToLetter[flag].charCodeAt(0) - 65);
  if (options.passed) upper |= 1 << (80 - 65); // 'P'
  for (const index of keywordIndexes) {
    if (!(index >= 0 && index <= 25)) throw new RangeError(`keyword index ${index} does not fit a maildir file name`);
    lower |= 1 << index;
  }
  let info = '';
  for (let bit = 0; upper !== 0 && bit < 26; bit++) if (upper & (1 << bit)) info += String.fromCharCode(65 + bit);
  for (let bit = 0; lower !== 0 && bit < 26; bit++) if (lower & (1 << bit)) info += String.fromCharCode(97 + bit);
  return info;
}

/** `<base>:2,<info>` for cur/; a message in new/ carries no info part. */
export function formatMaildirName(base: string, info: string | undefined): string {
  return info === undefined ? base : `${base}:2,${info}`;
}

/** Characters a base name must not contain: '/' (path), ':' (info separator), NUL; and it must not start with '.'. */
export function isSafeBaseName(base: string): boolean {
  return base.length > 0 && base.length <= 200 && !base.startsWith('.') && !/[/:\u0000\n\r]/.test(base);
}

/**
 * The base name of a message mailshift stores, derived only from what the message is: its received time, a hash of
 * its stored bytes, and its ordinal among identical messages of the same source file. So a re-run, or a run resumed
 * after a crash, computes the same name and finds the message already there. Shaped like every maildir writer's
 * `<time>.<unique>.<host>`, with Dovecot's `,S=` and `,W=` sizes.
 */
export function buildConvertedBaseName(input: {
  receivedSecs: number;
  contentHashHex: string;
  ordinal: number;
  sizeBytes: number;
  virtualSizeBytes: number;
}): string {
  // Built with join: a template literal leaves a tree of string pieces (and the whole 64-character digest behind
  // the 24 characters used) alive for as long as the name is kept, ~350 bytes per message in a large conversion.
  return [
    Math.max(0, Math.floor(input.receivedSecs)),
    '.M',
    convertedNameHash(input.contentHashHex),
    input.ordinal > 0 ? `Q${input.ordinal}` : '',
    '.mailshift,S=',
    input.sizeBytes,
    ',W=',
    input.virtualSizeBytes,
  ].join('');
}

/** Characters of the content hash a converted base name carries (buildConvertedBaseName). */
const convertedNameHashLength = 24;
const convertedName = new RegExp(`^\\d+\\.M([0-9a-f]{${convertedNameHashLength}})(?:Q\\d+)?\\.mailshift,`);

/**
 * The hash part of a name buildConvertedBaseName made (the file name, with or without its info), or undefined for a
 * name another tool gave. Compare it with `convertedNameHash(hex)` of the hash the name was built from.
 */
export function readConvertedNameHash(fileName: string): string | undefined {
  return convertedName.exec(fileName)?.[1];
}

/** The part of a hash that buildConvertedBaseName puts into a name. */
export function convertedNameHash(contentHashHex: string): string {
  return contentHashHex.substring(0, convertedNameHashLength);
}

/**
 * Base names for the messages of one source file, in file order. Twins (the same bytes twice in one file) are told
 * apart by their order in the file. Counted by a 52-bit fingerprint of the content hash rather than by name, so the
 * count costs a number per message, not a string. A collision (or the same bytes under another date) only adds "Q1"
 * to a name: still unique, the same every run.
 */
export class ConvertedNameSequence {
  private readonly ordinals = new Map<number, number>();

  next(parts: { receivedSecs: number; contentHashHex: string; sizeBytes: number; virtualSizeBytes: number }): string {
    const fingerprint = parseInt(parts.contentHashHex.slice(0, 13), 16);
    const ordinal = this.ordinals.get(fingerprint) ?? 0;
    this.ordinals.set(fingerprint, ordinal + 1);
    return buildConvertedBaseName({ ...parts, ordinal });
  }
}
