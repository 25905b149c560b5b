/**
 * IMAP modified UTF-7 (RFC 3501 §5.1.3), the encoding Dovecot and Courier use for non-ASCII folder names on disk
 * and on the wire. Written by hand: it is twenty lines, and the npm packages for it are unmaintained or pull in a
 * general iconv.
 */

function isDirect(code: number): boolean {
  return code >= 0x20 && code <= 0x7e && code !== 0x26; // printable ASCII except '&'
}

export function encodeMutf7(name: string): string {
  let out = '';
  let pending: number[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const bytes = Buffer.alloc(pending.length * 2);
    pending.forEach((unit, i) => bytes.writeUInt16BE(unit, i * 2));
    out += `&${bytes.toString('base64').replace(/=+$/, '').replace(/\//g, ',')}-`;
    pending = [];
  };
  for (let i = 0; i < name.length; i++) {
    const unit = name.charCodeAt(i);
    if (isDirect(unit)) {
      flush();
      out += name[i];
    } else if (unit === 0x26) {
      flush();
      out += '&-';
    } else {
      pending.push(unit); // UTF-16 code units: surrogate pairs pass through as two units, as the RFC requires
    }
  }
  flush();
  return out;
}

export class Mutf7Error extends Error {}

/** Decodes modified UTF-7; throws Mutf7Error on malformed input (an unterminated or invalid `&...-` run). */
export function decodeMutf7(encoded: string): string {
  let out = '';
  let i = 0;
  while (i < encoded.length) {
    const ch = encoded[i]!;
    if (ch !== '&') {
      out += ch;
      i += 1;
      continue;
    }
    const end = encoded.indexOf('-', i + 1);
    if (end < 0) throw new Mutf7Error(`unterminated modified UTF-7 run in "${encoded}"`);
    const run = encoded.slice(i + 1, end);
    if (run === '') {
      out += '&';
    } else {
      if (!/^[A-Za-z0-9+,]+$/.test(run)) throw new Mutf7Error(`invalid modified UTF-7 run "&${run}-"`);
      const bytes = Buffer.from(run.replace(/,/g, '/'), 'base64');
      if (bytes.length % 2 !== 0) throw new Mutf7Error(`odd byte count in modified UTF-7 run "&${run}-"`);
      for (let b = 0; b < bytes.length; b += 2) out += String.fromCharCode(bytes.readUInt16BE(b));
    }
    i = end + 1;
  }
  return out;
}

/** True when the name is valid modified UTF-7 that decodes and re-encodes to itself. */
export function isCanonicalMutf7(encoded: string): boolean {
  try {
    return encodeMutf7(decodeMutf7(encoded)) === encoded;
  } catch {
    return false;
  }
}
