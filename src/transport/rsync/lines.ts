import { StringDecoder } from 'node:string_decoder';

/**
 * Splits a byte stream into lines on '\n' and '\r' (rsync redraws progress with '\r') without ever holding more than
 * the current partial line. A line longer than maxLineBytes is cut and delivered in pieces, so a misbehaving child
 * cannot make us buffer without bound.
 */
export interface LineSplitter {
  push(chunk: Buffer | string): void;
  /** Delivers the last line if the stream did not end with a newline. */
  end(): void;
}

export function createLineSplitter(onLine: (line: string) => void, maxLineBytes = 64 * 1024): LineSplitter {
  let pending = '';
  // A chunk boundary can fall inside a multi-byte character; the decoder holds the partial bytes back.
  const decoder = new StringDecoder('utf8');
  return {
    push(chunk) {
      const text = pending + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
      let start = 0;
      for (let i = 0; i < text.length; i += 1) {
        const c = text.charCodeAt(i);
        if (c === 10 || c === 13) {
          if (i > start) onLine(text.slice(start, i));
          start = i + 1;
        }
      }
      pending = text.slice(start);
      while (pending.length > maxLineBytes) {
        onLine(pending.slice(0, maxLineBytes));
        pending = pending.slice(maxLineBytes);
      }
    },
    end() {
      pending += decoder.end();
      if (pending.length > 0) onLine(pending);
      pending = '';
    },
  };
}
