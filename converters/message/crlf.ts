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
 * source server had on disk). One pass and one allocation: messages can have tens of thousands of lines.
 */
export function toLf(content: Buffer): Buffer {
  let crlf = 0;
  for (let i = content.indexOf(0x0a, 1); i >= 0; i = content.indexOf(0x0a, i + 1)) {
    if (content[i - 1] === 0x0d) crlf += 1;
  }
  if (crlf === 0) return content;
  const out = Buffer.allocUnsafe(content.length - crlf);
  let written = 0;
  let from = 0;
  for (let i = content.indexOf(0x0a, 1); i >= 0; i = content.indexOf(0x0a, i + 1)) {
    if (content[i - 1] !== 0x0d) continue;
    written += content.copy(out, written, from, i - 1);
    out[written++] = 0x0a;
    from = i + 1;
  }
  written += content.copy(out, written, from);
  return out;
}
