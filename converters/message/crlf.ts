/**
 * A message in the form IMAP transmits it: every line ends in CRLF. Bare LF (maildir, mbox) becomes CRLF, bare CR
 * is left alone (rare, and servers disagree on it). Returns the same buffer when nothing changes.
 */
export function toCrlf(content: Buffer): Buffer {
  let bareLf = 0;
  for (let i = content.indexOf(0x0a); i >= 0; i = content.indexOf(0x0a, i + 1)) {
    if (i === 0 || content[i - 1] !== 0x0d) bareLf += 1;
  }
  if (bareLf === 0) return content;
  const out = Buffer.allocUnsafe(content.length + bareLf);
  let written = 0;
  let from = 0;
  for (let i = content.indexOf(0x0a); i >= 0; i = content.indexOf(0x0a, i + 1)) {
    if (i > 0 && content[i - 1] === 0x0d) continue;
    written += content.copy(out, written, from, i);
    out[written++] = 0x0d;
    out[written++] = 0x0a;
    from = i + 1;
  }
  written += content.copy(out, written, from);
  return out;
}

/**
 * The reverse, for writing an IMAP message into a maildir: every CRLF becomes LF (what Dovecot stores and what the
 * source server had on disk), in place: the bytes move down over the removed CRs, no second buffer. Also returns the
 * message's RFC822.SIZE (every LF counted as CRLF), which the maildir name carries as W=.
 * In place because it is the hot loop of an IMAP download: a copy per line into a new buffer cost 2-3x as much.
 */
export function toLfInPlace(content: Buffer): { content: Buffer; virtualSizeBytes: number } {
  let write = 0;
  let from = 0;
  let bareLf = 0;
  for (let i = content.indexOf(0x0a); i >= 0; i = content.indexOf(0x0a, i + 1)) {
    if (i === 0 || content[i - 1] !== 0x0d) {
      bareLf += 1;
      continue;
    }
    if (write !== from) content.copyWithin(write, from, i - 1);
    write += i - 1 - from;
    content[write++] = 0x0a;
    from = i + 1;
  }
  if (from === 0) return { content, virtualSizeBytes: content.length + bareLf };
  if (write !== from) content.copyWithin(write, from);
  write += content.length - from;
  return { content: content.subarray(0, write), virtualSizeBytes: content.length + bareLf };
}
