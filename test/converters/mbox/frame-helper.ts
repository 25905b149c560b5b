import { MboxFramer, type FramerOptions } from '../../../converters/mbox/framer.js';

export interface FramedMessage {
  offset: number;
  sender: string;
  date: string;
  header: string;
  body: string;
  truncated?: string;
  /** Offset just past the message (where the next From_ line starts, or the end of the input). */
  end: number;
  framedByContentLength: boolean;
  note?: string;
}

export interface FrameResult {
  messages: FramedMessage[];
  /** The line ending detected for the whole input. */
  isCrlf: boolean;
  garbage: { offset: number; length: number }[];
  rewinds: number;
}

/**
 * Frames `input` pushed in chunks of `chunkBytes` (all at once when 0), following rewinds the way the file reader
 * does: re-feed from the rewind offset with Content-Length ignored for that message.
 */
export function frame(input: Buffer | string, options: Partial<FramerOptions> = {}, chunkBytes = 0): FrameResult {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const result: FrameResult = { messages: [], isCrlf: false, garbage: [], rewinds: 0 };
  const ignore = new Set<number>(options.ignoreContentLengthAt ?? []);
  let start = 0;
  let crlf: boolean | undefined;
  for (;;) {
    let current: FramedMessage | undefined;
    const pending: FramedMessage[] = [];
    const framer = new MboxFramer(
      {
        messageStart: (s) => {
          current = { offset: s.offset, sender: s.fromLine.sender, date: s.fromLine.date?.toISOString() ?? '', header: '', body: '', end: -1, framedByContentLength: false };
        },
        header: (h) => {
          current!.header += h.toString('latin1');
        },
        body: (b) => {
          current!.body += b.toString('latin1');
        },
        messageEnd: (e) => {
          if (e.truncated) current!.truncated = e.truncated;
          current!.end = e.offset;
          current!.framedByContentLength = e.framedByContentLength === true;
          if (e.note) current!.note = e.note;
          pending.push(current!);
          current = undefined;
        },
        garbage: (offset, length) => result.garbage.push({ offset, length }),
      },
      { unescape: 'none', honorContentLength: true, ...options, startOffset: start, ignoreContentLengthAt: ignore, ...(crlf !== undefined ? { crlf } : {}) },
    );
    const rest = bytes.subarray(start);
    let rewind;
    const step = chunkBytes > 0 ? chunkBytes : Math.max(rest.length, 1);
    for (let at = 0; at < rest.length && !rewind; at += step) rewind = framer.push(rest.subarray(at, at + step));
    rewind ??= framer.end();
    result.messages.push(...pending);
    result.isCrlf = framer.isCrlf;
    if (!rewind) return result;
    result.rewinds += 1;
    crlf = framer.isCrlf;
    ignore.add(rewind.rewindTo);
    start = rewind.rewindTo;
  }
}
