import { isHeaderFieldLine, maxFromLineBytes, parseBareFromLine, parseFromLine, type FromLine } from './from-line.js';
import { buildFieldNameFilter, parseHeaderFields } from './metadata.js';

/**
 * Cuts an mbox byte stream into messages, streaming: memory is bounded by the largest header block plus one line,
 * never by a message or the file.
 *
 * Written by hand rather than with mbox-reader (which we evaluated; see test/converters/mbox/mbox-reader-gaps.test.ts)
 * because mbox-reader splits on any line that starts with "From " (so "From here on..." in a body cuts a message in
 * two), does not know Content-Length framing (mboxcl/mboxcl2 bodies with unescaped From lines are split), always
 * strips one '>' from ">From " (corrupting mboxo mail), and holds every message as an array of JS strings (slow, and a
 * 50 MB attachment is 50 MB of strings). What this framer does (shared/reference/maildir-format.md §6):
 *
 * - A separator is a line starting with "From " whose date parses (parseFromLine). The empty line before it belongs
 *   to the mbox, not to the message, and is dropped; so is the final empty line of the file. A bare `From ` or
 *   `From - ` line (old Thunderbird and Netscape files) is a separator too, but only at the start of the input or
 *   after an empty line, and only when a header line follows it: those files leave body "From " lines unescaped.
 * - Content-Length (mboxcl, mboxcl2) is honoured only when the byte it points at is followed by a valid From_ line or
 *   the end of the file, as Dovecot does. When it points anywhere else, past the end of the file included (a file
 *   whose line ends were converted after the lengths were written), the framer asks its driver to rewind to the
 *   start of that message and frame it again by From_ lines (`push` returns a Rewind).
 * - '>From ' unescaping: 'mboxrd' strips one '>' from every line matching ^>+From ; 'none' leaves bytes alone
 *   (mboxo, whose quoting is ambiguous, and Content-Length-framed messages).
 * - CRLF files (detected from the first From_ line) are converted to LF line ends; LF files are passed through
 *   byte for byte.
 * - Bytes before the first From_ line are reported as garbage, never silently dropped (blank lines and a UTF-8 byte
 *   order mark at the very start are padding, not garbage).
 *
 * Over 400 lines because the framing is one state machine (separator, header, body, Content-Length, escapes) whose
 * states share their buffers: split into files, each part would need the others' internals.
 */

export type UnescapeMode = 'none' | 'mboxrd';

/** How the source marks message boundaries and escapes body lines (maildir-format.md §6.1). */
export type MboxVariant = 'auto' | 'mboxo' | 'mboxrd' | 'mboxcl' | 'mboxcl2';

/**
 * The framing a file is read with: mboxrd unescaping when asked, or (auto) when the file holds ">>From " lines, which
 * only mboxrd writers produce; Content-Length honoured unless the variant says the file has none worth trusting.
 */
export function decideFraming(variant: MboxVariant, hasDoubleQuotedFrom: boolean): { unescape: UnescapeMode; honorContentLength: boolean } {
  const unescape: UnescapeMode = variant === 'mboxrd' || (variant === 'auto' && hasDoubleQuotedFrom) ? 'mboxrd' : 'none';
  return { unescape, honorContentLength: variant !== 'mboxo' && variant !== 'mboxrd' };
}

export interface FramerOptions {
  readonly unescape: UnescapeMode;
  readonly honorContentLength: boolean;
  /** Absolute offset of the first byte pushed (non-zero after a rewind). */
  readonly startOffset?: number;
  /** Message start offsets whose Content-Length proved wrong: frame them by From_ lines. */
  readonly ignoreContentLengthAt?: ReadonlySet<number>;
  /** Header blocks larger than this are treated as body (no metadata parsing), so memory stays bounded. */
  readonly maxHeaderBytes?: number;
  /** Whether the stream is CRLF; detected from the first From_ line when not given (a rewind passes it on). */
  readonly crlf?: boolean;
}

export interface MessageStart {
  /** Byte offset of the From_ line in the source. */
  readonly offset: number;
  readonly fromLine: FromLine;
}

export interface MessageEnd {
  readonly offset: number;
  /** Why the message is known to be incomplete, when it is. */
  readonly truncated?: string;
  /**
   * True when the body was taken by its Content-Length (no unescaping, From_ lines inside kept). Framing the bytes
   * [start offset, end offset) again alone gives the same message only with the same choice.
   */
  readonly framedByContentLength?: boolean;
  /**
   * Set when the message was framed by From_ lines because its Content-Length pointed past the end of the file and
   * it is the file's last message: it may have been cut off, which nothing in the file can prove or disprove.
   */
  readonly note?: string;
}

export interface FramerSink {
  messageStart(start: MessageStart): void;
  /** The whole header block including the empty line that ends it (LF line ends). Called once per message. */
  header(header: Buffer): void;
  /** Body bytes, in order, possibly in many pieces. */
  body(chunk: Buffer): void;
  messageEnd(end: MessageEnd): void;
  /** Bytes that belong to no message (text before the first From_ line). */
  garbage(offset: number, length: number): void;
}

export interface Rewind {
  readonly rewindTo: number;
  readonly reason: string;
}

const LF = 0x0a;
const CR = 0x0d;
const GT = 0x3e;
const fromPrefix = Buffer.from('From ');
const newlineFrom = Buffer.from('\nFrom ');
const newlineGt = Buffer.from('\n>');
const crlfBytes = Buffer.from('\r\n');
const emptyBuffer = Buffer.alloc(0);

type State = 'preamble' | 'header' | 'body' | 'lengthBody' | 'lengthCheck';

/** Lines longer than this cannot be From_ lines; they are streamed through instead of accumulated. */
const maxCarryBytes = Math.max(maxFromLineBytes * 2, 64 * 1024);

export class MboxFramer {
  private state: State = 'preamble';
  private carry: Buffer = emptyBuffer;
  /** Absolute offset of carry[0]. */
  private carryOffset: number;
  private crlf: boolean | undefined;
  private readonly maxHeaderBytes: number;
  private messageOffset = -1;
  private bodyStartOffset = 0;
  private contentLength: number | undefined;
  /** The Content-Length of a message framed again by From_ lines because that length proved wrong. */
  private ignoredContentLength: number | undefined;
  /** Body bytes still to pass in lengthBody state. */
  private lengthRemaining = 0;
  /** An empty line held back: it is dropped if a separator follows, emitted otherwise. */
  private heldEmptyLine = false;
  /** False while streaming a long line in body state whose start was already checked. */
  private atLineStart = true;
  private garbageStart = -1;

  constructor(
    private readonly sink: FramerSink,
    private readonly options: FramerOptions,
  ) {
    this.carryOffset = options.startOffset ?? 0;
    this.crlf = options.crlf;
    this.maxHeaderBytes = options.maxHeaderBytes ?? 8 * 1024 * 1024;
  }

  get isCrlf(): boolean {
    return this.crlf ?? false;
  }

  /** Feeds the next bytes. Returns a Rewind when a Content-Length turned out wrong; stop pushing then. */
  push(chunk: Buffer): Rewind | undefined {
    if (this.carry.length === 0) {
      this.carry = chunk;
      return this.process(false);
    }
    // The carry is usually the start of one line. Complete that line first, so that in the common case the rest of
    // the chunk is framed in place instead of being copied behind the carry (a megabyte copy per read otherwise).
    const firstNewline = chunk.indexOf(LF);
    if (firstNewline >= 0 && firstNewline + 1 < chunk.length) {
      this.carry = Buffer.concat([this.carry, chunk.subarray(0, firstNewline + 1)]);
      const rewind = this.process(false);
      if (rewind) return rewind;
      const rest = chunk.subarray(firstNewline + 1);
      this.carry = this.carry.length === 0 ? rest : Buffer.concat([this.carry, rest]);
      return this.process(false);
    }
    this.carry = Buffer.concat([this.carry, chunk]);
    return this.process(false);
  }

  /** Signals the end of input; flushes the last message. */
  end(): Rewind | undefined {
    return this.process(true);
  }

  private process(isEnd: boolean): Rewind | undefined {
    for (;;) {
      let progressed: boolean | Rewind;
      switch (this.state) {
        case 'preamble':
          progressed = this.processPreamble(isEnd);
          break;
        case 'header':
          progressed = this.processHeader(isEnd);
          break;
        case 'body':
          progressed = this.processBody(isEnd);
          break;
        case 'lengthBody':
          progressed = this.processLengthBody(isEnd);
          break;
        case 'lengthCheck':
          progressed = this.processLengthCheck(isEnd);
          break;
      }
      if (typeof progressed === 'object') return progressed;
      if (!progressed) return undefined;
    }
  }

  /** Consumes `count` bytes of carry. */
  private consume(count: number): void {
    this.carry = this.carry.subarray(count);
    this.carryOffset += count;
  }

  /** Returns the line at `start` in carry (with its terminator), or undefined when it is not complete yet. */
  private lineAt(start: number, isEnd: boolean): Buffer | undefined {
    const newline = this.carry.indexOf(LF, start);
    if (newline < 0) return isEnd || this.carry.length - start > maxFromLineBytes ? this.carry.subarray(start) : undefined;
    return this.carry.subarray(start, newline + 1);
  }

  /**
   * Parses a candidate From_ line. With `allowBare` (the line starts the input or follows an empty line), a bare
   * `From ` line followed by a header line is a separator too. Undefined when the lines needed have not arrived.
   */
  private separatorAt(start: number, isEnd: boolean, allowBare?: () => boolean): { line: Buffer; fromLine: FromLine | undefined } | undefined {
    const line = this.lineAt(start, isEnd);
    if (!line) return undefined;
    if (line.length > maxFromLineBytes) return { line, fromLine: undefined };
    const text = line.toString('latin1');
    const fromLine = parseFromLine(text);
    if (fromLine || !allowBare) return { line, fromLine };
    const bare = parseBareFromLine(text);
    if (!bare || line[line.length - 1] !== LF || !allowBare()) return { line, fromLine: undefined };
    const next = this.lineAt(start + line.length, isEnd);
    if (!next) return undefined;
    return { line, fromLine: isHeaderFieldLine(next.toString('latin1', 0, Math.min(next.length, 1000))) ? bare : undefined };
  }

  /** Whether the line starting at carry[lineStart] follows an empty line (bare separators are only taken there). */
  private isAfterEmptyLine(lineStart: number): boolean {
    if (this.state !== 'body') return false;
    if (lineStart === 0) return this.atLineStart && (this.heldEmptyLine || this.carryOffset === this.bodyStartOffset);
    const previousStart = lineStart >= 2 ? this.carry.lastIndexOf(LF, lineStart - 2) + 1 : 0;
    if (previousStart === 0 && !this.atLineStart) return false;
    const length = lineStart - previousStart;
    return length === 1 || (length === 2 && this.carry[previousStart] === CR);
  }

  /**
   * Finds the first valid From_ line starting in carry[0, limit): at position 0 when we are at a line start, else
   * after a '\n'. 'incomplete' means a candidate line has not fully arrived yet.
   */
  private findSeparator(
    limit: number,
    isEnd: boolean,
  ): { kind: 'found'; lineStart: number; line: Buffer; fromLine: FromLine } | { kind: 'incomplete'; lineStart: number } | { kind: 'none' } {
    if (this.atLineStart && limit > 0 && this.carry[0] === 0x46 /* F */) {
      if (this.carry.length < fromPrefix.length && !isEnd) return { kind: 'incomplete', lineStart: 0 };
      if (this.carry.subarray(0, fromPrefix.length).equals(fromPrefix)) {
        const separator = this.separatorAt(0, isEnd, () => this.isAfterEmptyLine(0));
        if (!separator) return { kind: 'incomplete', lineStart: 0 };
        if (separator.fromLine) return { kind: 'found', lineStart: 0, line: separator.line, fromLine: separator.fromLine };
      }
    }
    let search = 0;
    for (;;) {
      const candidate = this.carry.indexOf(newlineFrom, search);
      // The line starts after the '\n': it must start before limit. (Testing the '\n' alone took the first body
      // line for a From_ line "before the end of the headers", and split a Content-Length message there.)
      if (candidate < 0 || candidate + 1 >= limit) return { kind: 'none' };
      const separator = this.separatorAt(candidate + 1, isEnd, () => this.isAfterEmptyLine(candidate + 1));
      if (!separator) return { kind: 'incomplete', lineStart: candidate + 1 };
      if (separator.fromLine) return { kind: 'found', lineStart: candidate + 1, line: separator.line, fromLine: separator.fromLine };
      search = candidate + 1;
    }
  }

  private processPreamble(isEnd: boolean): boolean {
    let searchFrom = 0;
    for (;;) {
      const candidate = this.carry.indexOf(fromPrefix, searchFrom);
      if (candidate < 0 || (candidate > 0 && this.carry[candidate - 1] !== LF && candidate !== this.byteOrderMarkLength())) {
        if (candidate > 0) {
          searchFrom = candidate + 1;
          continue;
        }
        // No candidate yet: everything up to the last line start is garbage; keep the partial last line.
        const lastNewline = this.carry.lastIndexOf(LF);
        const keepFrom = isEnd ? this.carry.length : lastNewline + 1;
        this.markGarbage(keepFrom);
        if (isEnd) this.flushGarbage();
        return false;
      }
      const separator = this.separatorAt(candidate, isEnd, () => this.garbageStart < 0 && this.isPaddingBefore(candidate));
      if (!separator) {
        this.markGarbage(candidate);
        return false;
      }
      if (!separator.fromLine) {
        searchFrom = candidate + 1;
        continue;
      }
      this.markGarbage(candidate);
      this.flushGarbage();
      if (this.crlf === undefined) this.crlf = separator.line.length >= 2 && separator.line[separator.line.length - 2] === CR;
      this.startMessage(separator.line, separator.fromLine);
      return true;
    }
  }

  /**
   * 3 when the file starts with a UTF-8 byte order mark (an mbox saved by a Windows editor or exporter): the mark is
   * padding before the first From_ line, not a message's bytes. 0 otherwise.
   */
  private byteOrderMarkLength(): number {
    const carry = this.carry;
    return this.carryOffset === 0 && carry.length >= 3 && carry[0] === 0xef && carry[1] === 0xbb && carry[2] === 0xbf ? 3 : 0;
  }

  /** Nothing but blank lines (and a byte order mark) before carry[upTo]. */
  private isPaddingBefore(upTo: number): boolean {
    return this.carry.subarray(this.byteOrderMarkLength(), upTo).every((byte) => byte === LF || byte === CR);
  }

  private markGarbage(upTo: number): void {
    if (upTo <= 0) return;
    // Blank lines (and a byte order mark) before the first message are harmless padding, not garbage.
    const isBlank = this.carry.subarray(this.byteOrderMarkLength(), upTo).every((byte) => byte === LF || byte === CR);
    if (!isBlank && this.garbageStart < 0) this.garbageStart = this.carryOffset;
    this.consume(upTo);
  }

  private flushGarbage(): void {
    if (this.garbageStart >= 0) {
      this.sink.garbage(this.garbageStart, this.carryOffset - this.garbageStart);
      this.garbageStart = -1;
    }
  }

  private startMessage(line: Buffer, fromLine: FromLine): void {
    this.messageOffset = this.carryOffset;
    this.sink.messageStart({ offset: this.carryOffset, fromLine });
    this.consume(line.length);
    this.state = 'header';
    this.heldEmptyLine = false;
    this.atLineStart = true;
    this.contentLength = undefined;
    this.ignoredContentLength = undefined;
  }

  private processHeader(isEnd: boolean): boolean {
    // The header block ends at the first empty line. A message may also start with an empty line (no headers).
    let end = -1;
    if (this.carry[0] === LF) end = 1;
    else if (this.carry[0] === CR && this.carry[1] === LF) end = 2;
    else {
      const lf = this.carry.indexOf('\n\n');
      const crlf = this.crlf ? this.carry.indexOf('\n\r\n') : -1;
      if (lf >= 0 && (crlf < 0 || lf < crlf)) end = lf + 2;
      else if (crlf >= 0) end = crlf + 3;
    }
    // A valid From_ line before the end of the headers ends a headers-only message.
    const found = this.findSeparator(end < 0 ? this.carry.length : end, isEnd);
    if (found.kind === 'incomplete') return false;
    if (found.kind === 'found') {
      this.emitHeader(this.carry.subarray(0, found.lineStart));
      this.consume(found.lineStart);
      this.finishMessage(undefined);
      this.startMessage(found.line, found.fromLine);
      return true;
    }
    if (end < 0) {
      if (isEnd) {
        const header = this.carry;
        const cutMidLine = header.length > 0 && header[header.length - 1] !== LF;
        this.emitHeader(header);
        this.consume(header.length);
        this.finishMessage(cutMidLine ? 'the file ends in the middle of the message headers' : undefined);
        this.state = 'preamble';
        return false;
      }
      if (this.carry.length > this.maxHeaderBytes) {
        // Not a header block we can parse; pass it through as body so nothing is lost and memory stays bounded.
        this.emitHeader(emptyBuffer);
        this.bodyStartOffset = this.carryOffset;
        this.state = 'body';
        return true;
      }
      return false;
    }
    const header = this.carry.subarray(0, end);
    this.emitHeader(header);
    this.consume(end);
    this.bodyStartOffset = this.carryOffset;
    const isIgnored = this.options.ignoreContentLengthAt?.has(this.messageOffset) === true;
    this.contentLength = this.options.honorContentLength && !isIgnored ? findContentLength(header) : undefined;
    if (this.options.honorContentLength && isIgnored) this.ignoredContentLength = findContentLength(header);
    if (this.contentLength !== undefined) {
      this.lengthRemaining = this.contentLength;
      this.state = 'lengthBody';
    } else {
      this.state = 'body';
    }
    return true;
  }

  private emitHeader(header: Buffer): void {
    this.sink.header(this.crlf ? crlfToLf(header) : header);
  }

  private emitBody(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.heldEmptyLine) {
      this.heldEmptyLine = false;
      this.sink.body(Buffer.from('\n'));
    }
    this.sink.body(this.crlf ? crlfToLf(bytes) : bytes);
  }

  /**
   * Emits carry[0, upTo) as body, holding back a final empty line (it may be the separator's), unescaping >From
   * lines when asked. upTo must be a line start (just after '\n').
   */
  private emitBodyLines(upTo: number): void {
    let region = this.carry.subarray(0, upTo);
    // Is the last line of the region an empty line? Then hold it back.
    let holdNew = false;
    const emptyLength = this.emptyLineLengthAtEnd(region);
    if (emptyLength > 0) {
      holdNew = true;
      region = region.subarray(0, region.length - emptyLength);
    }
    if (this.options.unescape === 'mboxrd' && this.contentLength === undefined) this.emitUnescaped(region);
    else this.emitBody(region);
    if (holdNew) {
      if (this.heldEmptyLine) this.sink.body(Buffer.from('\n')); // two empty lines in a row: the first is content
      this.heldEmptyLine = true;
    }
  }

  /** Length of the empty line at the end of region ("\n" or "\r\n"), 0 when the last line is not empty. */
  private emptyLineLengthAtEnd(region: Buffer): number {
    const n = region.length;
    if (n === 0 || region[n - 1] !== LF) return 0;
    const lineStart = this.atLineStartOf(region, n - 1);
    if (lineStart === 0 && !this.atLineStart) return 0; // the end of a long line streamed earlier, not an empty line
    const lineLength = n - lineStart;
    if (lineLength === 1) return 1;
    if (lineLength === 2 && this.crlf && region[n - 2] === CR) return 2;
    return 0;
  }

  /** Start of the line that contains position `at` (the region always begins at a line start). */
  private atLineStartOf(region: Buffer, at: number): number {
    const previous = at > 0 ? region.lastIndexOf(LF, at - 1) : -1;
    return previous + 1;
  }

  private emitUnescaped(region: Buffer): void {
    let start = 0;
    let search = 0;
    if (this.atLineStart && isQuotedFrom(region, 0)) start = 1;
    for (;;) {
      const gt = region.indexOf(newlineGt, search);
      if (gt < 0) break;
      if (isQuotedFrom(region, gt + 1)) {
        this.emitBody(region.subarray(start, gt + 1));
        start = gt + 2; // drop exactly one '>'
      }
      search = gt + 1;
    }
    this.emitBody(region.subarray(start));
  }

  private processBody(isEnd: boolean): boolean {
    const found = this.findSeparator(this.carry.length, isEnd);
    if (found.kind === 'incomplete') {
      // The candidate line is incomplete: emit the lines before it and wait for the rest.
      if (found.lineStart > 0) {
        this.emitBodyLines(found.lineStart);
        this.consume(found.lineStart);
        this.atLineStart = true;
      }
      return false;
    }
    if (found.kind === 'found') {
      this.emitBodyLines(found.lineStart);
      this.consume(found.lineStart);
      this.finishMessage(undefined);
      this.startMessage(found.line, found.fromLine);
      return true;
    }
    if (isEnd) {
      // The file's final empty line is the mbox's, not the message's.
      const all = this.carry;
      const lastNewline = all.lastIndexOf(LF);
      if (lastNewline === all.length - 1) this.emitBodyLines(all.length);
      else {
        this.emitBodyLines(lastNewline + 1);
        this.emitPartialLine(all.subarray(lastNewline + 1));
      }
      this.consume(all.length);
      this.heldEmptyLine = false;
      this.finishMessage(undefined, this.describeShortContentLength());
      this.state = 'preamble';
      return false;
    }
    // Emit complete lines; keep the last partial line (it may become a From_ line) unless it is too long to be one.
    const lastNewline = this.carry.lastIndexOf(LF);
    if (lastNewline >= 0) {
      this.emitBodyLines(lastNewline + 1);
      this.consume(lastNewline + 1);
      this.atLineStart = true;
    }
    if (this.carry.length > maxCarryBytes) {
      // A very long line: its start was checked (it is not a From_ line), stream it through. Keep a trailing CR
      // so a CRLF split across chunks is still converted.
      const keep = this.carry[this.carry.length - 1] === CR ? 1 : 0;
      this.emitPartialLine(this.carry.subarray(0, this.carry.length - keep));
      this.consume(this.carry.length - keep);
    }
    return false;
  }

  /** Emits bytes that do not end at a line boundary (a long line, or the last line of a file without final newline). */
  private emitPartialLine(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.atLineStart && this.options.unescape === 'mboxrd' && this.contentLength === undefined && isQuotedFrom(bytes, 0)) {
      this.emitBody(bytes.subarray(1));
    } else {
      this.emitBody(bytes);
    }
    this.atLineStart = false;
  }

  private processLengthBody(isEnd: boolean): boolean | Rewind {
    const available = Math.min(this.lengthRemaining, this.carry.length);
    if (available > 0) {
      // Content-Length counts the bytes as stored; in a CRLF file a CR may be split from its LF here, so keep it.
      const take = this.crlf && available === this.carry.length && this.carry[available - 1] === CR && this.lengthRemaining > available ? available - 1 : available;
      if (take > 0) {
        this.emitBody(this.carry.subarray(0, take));
        this.consume(take);
        this.lengthRemaining -= take;
      }
      if (take < available) return false;
    }
    if (this.lengthRemaining === 0) {
      this.state = 'lengthCheck';
      return true;
    }
    if (isEnd) {
      // Fewer bytes than Content-Length promised: a length gone wrong (line ends converted after it was written)
      // or a file cut off. Framed again by From_ lines, later messages it would swallow are found; the last one is
      // kept and noted (describeShortContentLength).
      return { rewindTo: this.messageOffset, reason: 'Content-Length points past the end of the file' };
    }
    return false;
  }

  private processLengthCheck(isEnd: boolean): boolean | Rewind {
    // After the body: optional empty line(s), then a valid From_ line or the end of the file.
    let at = 0;
    while (at < this.carry.length && (this.carry[at] === LF || (this.carry[at] === CR && this.carry[at + 1] === LF))) {
      at += this.carry[at] === CR ? 2 : 1;
    }
    if (at === this.carry.length) {
      if (!isEnd) return false;
      this.consume(this.carry.length);
      this.finishMessage(undefined);
      this.state = 'preamble';
      return false;
    }
    const newlines = at;
    const separator = this.separatorAt(at, isEnd);
    if (!separator) return false;
    if (!separator.fromLine || newlines > (this.crlf ? 4 : 2)) {
      return { rewindTo: this.messageOffset, reason: 'Content-Length does not end at a message boundary' };
    }
    // One empty line is the separator; a second one (a body that did not end in a newline) is too.
    this.consume(at);
    this.finishMessage(undefined);
    this.startMessage(separator.line, separator.fromLine);
    return true;
  }

  /** For the file's last message when its ignored Content-Length promised more bytes than the file holds. */
  private describeShortContentLength(): string | undefined {
    const promised = this.ignoredContentLength;
    const bodyBytes = this.carryOffset - this.bodyStartOffset;
    if (promised === undefined || bodyBytes >= promised) return undefined;
    return `its Content-Length points ${promised - bodyBytes} bytes past the end of the file; it was framed by "From " lines instead, and may have been cut off`;
  }

  private finishMessage(truncated: string | undefined, note?: string): void {
    this.heldEmptyLine = false;
    this.sink.messageEnd({
      offset: this.carryOffset,
      ...(truncated ? { truncated } : {}),
      ...(this.contentLength !== undefined ? { framedByContentLength: true } : {}),
      ...(note ? { note } : {}),
    });
  }
}

/** True when bytes at `at` read ">...>From ". */
function isQuotedFrom(bytes: Buffer, at: number): boolean {
  let i = at;
  while (i < bytes.length && bytes[i] === GT) i++;
  return i > at && bytes.length - i >= 5 && bytes.toString('latin1', i, i + 5) === 'From ';
}

export function crlfToLf(bytes: Buffer): Buffer {
  let start = 0;
  let found = bytes.indexOf(crlfBytes);
  if (found < 0) return bytes;
  const parts: Buffer[] = [];
  while (found >= 0) {
    parts.push(bytes.subarray(start, found));
    start = found + 1; // keep the LF
    found = bytes.indexOf(crlfBytes, start);
  }
  parts.push(bytes.subarray(start));
  return Buffer.concat(parts);
}

/**
 * The Content-Length header value of a header block, when there is exactly one valid one. Only that field's line is
 * decoded: decoding every header block to search it was a tenth of a conversion's garbage.
 */
export function findContentLength(header: Buffer): number | undefined {
  const fields = parseHeaderFields(header, contentLengthField);
  if (fields.length !== 1) return undefined;
  const { start } = fields[0]!;
  const lineEnd = header.indexOf(LF, start);
  const match = /^content-length:[ \t]*(\d+)[ \t]*\r?$/i.exec(header.toString('latin1', start, lineEnd < 0 ? header.length : lineEnd));
  if (!match) return undefined;
  const value = Number(match[1]);
  return Number.isSafeInteger(value) ? value : undefined;
}

const contentLengthField = buildFieldNameFilter(['content-length']);
