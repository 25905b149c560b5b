#!/usr/bin/env node
// Seeded generator of realistic mbox corpora for benchmarks (and for eyeballing parsers on large inputs).
//
//   node scripts/gen-mbox-corpus.mjs --messages 10000 --seed 1 --out /mnt/scratch/corpus.mbox
//   node scripts/gen-mbox-corpus.mjs --messages 10000 --seed 1 --layout tree --out /mnt/scratch/mail
//   add --json to print the summary as JSON on stdout
//
// What the corpus looks like, and why:
// - Sizes: median around 5 KB, mean around 18 KB (10,000 messages ~ 180 MB, the corpus the issue's figures were
//   measured on): ~90% text messages (some multipart/alternative with an HTML part), ~5% with a 10-300 KB base64
//   attachment, ~0.35% with a 0.5-5 MB one. A higher share of MB-sized attachments would push the mean far past
//   18 KB (0.5-5 MB log-uniform averages ~1.95 MB, so every 1% adds ~20 KB per message).
// - mbox quoting: bodies contain `>From ` lines (mboxo/mboxrd escape of a body `From `) and some `>>From ` lines
//   (mboxrd escape of a body `>From `). A raw `From ` line never appears inside a body, so every reader, mboxo or
//   mboxrd, cuts the file into exactly `--messages` messages. Every From_ line follows an empty line.
// - Status / X-Status on a share of messages (flags for converters to carry), a few X-Keywords, unique
//   Message-IDs, Received chains, sometimes a DKIM signature, asctime dates on From_ lines, dates that move forward.
//
// Deterministic: the same --seed gives the same bytes, and message i does not depend on --messages, so a
// 2,000-message corpus is a prefix of the 10,000-message one with the same seed.
// Streaming: one message is built at a time and written with blocking writes in batches of ~1 MB (the write is
// the backpressure), so memory stays flat whatever the corpus size. Attachment and text content is cut out of
// pools made once at start-up from the seed, which keeps generation well above disk speed.
import { closeSync, mkdirSync, openSync, writevSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

/** sfc32 seeded through splitmix32: small, fast, and good enough for test data. Returns floats in [0, 1). */
export function createRandom(seed) {
  let s = seed >>> 0;
  const splitmix = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const next32 = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) next32();
  const random = () => next32() / 4294967296;
  return {
    next32,
    random,
    int: (lo, hi) => lo + Math.floor(random() * (hi - lo + 1)),
    pick: (items) => items[Math.floor(random() * items.length)],
    chance: (p) => random() < p,
    logUniform: (lo, hi) => Math.exp(Math.log(lo) + random() * (Math.log(hi) - Math.log(lo))),
    logNormal: (median, sigma) => {
      const u = 1 - random();
      const v = random();
      return median * Math.exp(sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
    },
  };
}

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they ' +
  'you were her all she there would their we him been has when who will more no if out so said what up its about ' +
  'into than them can only other new some could time these two may then do first any my now such like our over ' +
  'man me even most made after also did many before must through back years where much your way well down should ' +
  'because each just those people how too little state good very make world still own see men work long get here ' +
  'between both life being under never day same another know while last might us great old year off come since ' +
  'against go came right used take three invoice meeting server migration mailbox quarterly report attached please ' +
  'review deadline thanks regards budget project schedule customer support ticket backup restore password account ' +
  'déjà café naïve Grüße señor façade smörgåsbord Zürich'
).split(' ');
const FIRST = ['Alice', 'Bob', 'Carol', 'Dave', 'Erin', 'Frank', 'Grace', 'Heidi', 'Ivan', 'Judy', 'Mallory', 'Niaj',
  'Olivia', 'Peggy', 'Rupert', 'Sybil', 'Trent', 'Victor', 'Walter', 'Zoë', 'José', 'Ingrid'];
const LAST = ['Smith', 'Jones', 'Nguyen', 'Müller', 'García', 'Rossi', 'Kowalski', 'Johansson', 'Dubois', 'Tanaka',
  'Okafor', 'Silva', 'Cohen', 'Novak', "O'Brien"];
const DOMAINS = ['example.com', 'example.org', 'example.net', 'mail.example.com', 'lists.example.org',
  'corp.example.net', 'shop.example.com'];
const SUBJECT_PREFIXES = ['', '', '', 'Re: ', 'Re: ', 'Fwd: ', 'RE: ', '[node-dev] ', 'AW: '];
const ATTACHMENTS = [['application/pdf', 'pdf'], ['image/jpeg', 'jpg'], ['image/png', 'png'],
  ['application/zip', 'zip'], ['application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'xlsx']];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** Folders of the tree layout: nesting, a non-ASCII name, and a literal dot (which Maildir++ uses as separator). */
export const TREE_FOLDERS = [
  { path: 'inbox', weight: 50 }, { path: 'Sent', weight: 15 }, { path: 'Drafts', weight: 2 },
  { path: 'Trash', weight: 5 }, { path: 'Archive/2019', weight: 10 }, { path: 'Archive/2020', weight: 10 },
  { path: 'Lists/node-dev', weight: 5 }, { path: 'Projets été', weight: 2 }, { path: 'Work.Reports', weight: 1 },
];

const BASE64_LINE_BYTES = 77; // 76 characters + LF
const BIG_ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024;

/** Lines of random base64, long enough for the largest attachment; attachments are slices of it. */
function buildBase64Pool(rng) {
  const rawBytes = Math.ceil(((BIG_ATTACHMENT_MAX_BYTES + 1024 * 1024) / BASE64_LINE_BYTES) * 57);
  const raw = Buffer.allocUnsafe(rawBytes - (rawBytes % 4));
  for (let i = 0; i < raw.length; i += 4) raw.writeUInt32LE(rng.next32(), i);
  const text = raw.toString('base64');
  const lineCount = Math.floor(text.length / 76);
  const pool = Buffer.allocUnsafe(lineCount * BASE64_LINE_BYTES);
  for (let line = 0; line < lineCount; line++) {
    pool.write(text.slice(line * 76, line * 76 + 76), line * BASE64_LINE_BYTES, 'latin1');
    pool[line * BASE64_LINE_BYTES + 76] = 0x0a;
  }
  return { pool, lineCount };
}

/** ~1 MB of wrapped prose lines; a body is a run of consecutive lines starting at a random one. */
function buildTextPool(rng) {
  const lines = [];
  let total = 0;
  while (total < 1024 * 1024) {
    const width = rng.int(40, 76);
    let line = '';
    while (line.length < width) line += (line ? ' ' : '') + rng.pick(WORDS);
    if (rng.chance(0.08)) line = ''; // paragraph breaks
    lines.push(line);
    total += line.length + 1;
  }
  return lines;
}

function pad2(n) {
  return n < 10 ? `0${n}` : String(n);
}

/** The From_ line date: C asctime, day of month padded with a space ("Mon Jan  5 14:03:22 2015"). */
export function formatAsctime(date) {
  const day = date.getUTCDate();
  return `${DAYS[date.getUTCDay()]} ${MONTHS[date.getUTCMonth()]} ${day < 10 ? ` ${day}` : day} ` +
    `${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())} ${date.getUTCFullYear()}`;
}

function formatRfc2822(date, offsetMinutes) {
  const local = new Date(date.getTime() + offsetMinutes * 60000);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${DAYS[local.getUTCDay()]}, ${local.getUTCDate()} ${MONTHS[local.getUTCMonth()]} ${local.getUTCFullYear()} ` +
    `${pad2(local.getUTCHours())}:${pad2(local.getUTCMinutes())}:${pad2(local.getUTCSeconds())} ` +
    `${sign}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`;
}

function person(rng) {
  const first = rng.pick(FIRST);
  const last = rng.pick(LAST);
  const local = `${first}.${last}`.toLowerCase().normalize('NFD').replace(/[^a-z.]/g, '');
  return { name: `${first} ${last}`, address: `${local}@${rng.pick(DOMAINS)}` };
}

function textBody(rng, textPool, sizeBytes) {
  const lines = [];
  let total = 0;
  let index = rng.int(0, textPool.length - 1);
  while (total < sizeBytes) {
    let line = textPool[index];
    index = (index + 1) % textPool.length;
    // Lines a writer had to quote: a body "From " becomes ">From " (mboxo and mboxrd), a body ">From " becomes
    // ">>From " (mboxrd). Never a bare "From " line: that would be a separator for an mboxo reader.
    if (rng.chance(0.004)) line = `>From ${line}`;
    else if (rng.chance(0.001)) line = `>>From ${line}`;
    else if (rng.chance(0.002)) line = `From: ${line}`.slice(0, 76); // looks like a header, is not a separator
    lines.push(line);
    total += Buffer.byteLength(line) + 1;
  }
  return `${lines.join('\n')}\n`;
}

function htmlFromText(text) {
  const escaped = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<html><body>\n<p>${escaped.split('\n\n').join('</p>\n<p>').replace(/\n(?!<)/g, '<br>\n')}</p>\n</body></html>\n`;
}

/** Flags in mbox bookkeeping headers, as UW-IMAP / Dovecot / mutt write them (last in the header). */
function statusHeaders(rng) {
  const out = [];
  if (rng.chance(0.7)) out.push(`Status: ${rng.pick(['RO', 'RO', 'RO', 'O', 'O', 'R'])}`);
  if (rng.chance(0.2)) {
    const flags = ['A', 'F', 'T', 'D'].filter(() => rng.chance(0.4));
    out.push(`X-Status: ${flags.join('')}`);
  }
  if (rng.chance(0.02)) out.push(`X-Keywords: ${rng.pick(['$Label1', 'Junk', 'NonJunk', '$Forwarded', 'Work Important'])}`);
  return out;
}

/**
 * One message as a list of chunks (strings and Buffers), From_ line included, followed by the empty line that
 * separates it from the next one. Pure given the random stream.
 */
export function buildMessage(index, seed, dateMs, rng, pools) {
  const sender = person(rng);
  const recipient = person(rng);
  const date = new Date(dateMs);
  const offsetMinutes = rng.pick([0, 60, 120, -300, -240, 330, 540, -480]);
  const messageId = `<${date.toISOString().replace(/[-:TZ.]/g, '')}.${index}.s${seed}@${sender.address.split('@')[1]}>`;
  const subjectWords = [];
  for (let n = rng.int(2, 9); n > 0; n--) subjectWords.push(rng.pick(WORDS));
  const subject = `${rng.pick(SUBJECT_PREFIXES)}${subjectWords.join(' ')}`;
  const headers = [
    `From ${sender.address} ${formatAsctime(date)}`,
    `Return-Path: <${sender.address}>`,
    `Delivered-To: ${recipient.address}`,
  ];
  for (let hop = rng.int(1, 4), t = dateMs; hop > 0; hop--, t -= rng.int(1, 30) * 1000) {
    headers.push(`Received: from mx${hop}.${rng.pick(DOMAINS)} (mx${hop}.${rng.pick(DOMAINS)} [192.0.2.${rng.int(1, 254)}])`);
    headers.push(`\tby mail.${rng.pick(DOMAINS)} with ESMTPS id ${rng.next32().toString(36)}${rng.next32().toString(36)}`);
    headers.push(`\tfor <${recipient.address}>; ${formatRfc2822(new Date(t), 0)}`);
  }
  if (rng.chance(0.3)) {
    let b = '';
    while (b.length < 340) b += rng.next32().toString(36);
    headers.push(`DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=${sender.address.split('@')[1]}; s=sel1;`);
    headers.push(`\th=from:to:subject:date:message-id; bh=${b.slice(0, 44)}=;`);
    headers.push(`\tb=${b.slice(44, 120)}`);
    headers.push(`\t ${b.slice(120, 196)}`);
    headers.push(`\t ${b.slice(196, 272)}`);
  }
  headers.push(
    `Date: ${formatRfc2822(date, offsetMinutes)}`,
    `From: ${sender.name} <${sender.address}>`,
    `To: ${recipient.name} <${recipient.address}>`,
  );
  if (rng.chance(0.25)) headers.push(`Cc: ${person(rng).address}, ${person(rng).address}`);
  headers.push(`Subject: ${subject}`, `Message-ID: ${messageId}`);
  if (subject.startsWith('Re')) headers.push(`In-Reply-To: <${rng.next32().toString(36)}.${index - 1}@${rng.pick(DOMAINS)}>`);
  headers.push('MIME-Version: 1.0');

  const kind = rng.random();
  const chunks = [];
  const text = textBody(rng, pools.text, Math.min(Math.round(rng.logNormal(2900, 0.9)), 200_000));
  if (kind < 0.0035 || kind > 0.95) {
    const isBig = kind < 0.0035;
    const sizeBytes = isBig ? rng.logUniform(512 * 1024, BIG_ATTACHMENT_MAX_BYTES) : rng.logUniform(10 * 1024, 300 * 1024);
    const boundary = `----=_Part_${index}_${rng.next32().toString(16)}`;
    const [mime, ext] = rng.pick(ATTACHMENTS);
    headers.push(`Content-Type: multipart/mixed; boundary="${boundary}"`, ...statusHeaders(rng));
    chunks.push(`${headers.join('\n')}\n\nThis is a multi-part message in MIME format.\n\n--${boundary}\n` +
      `Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n${text}\n--${boundary}\n` +
      `Content-Type: ${mime}; name="file-${index}.${ext}"\nContent-Transfer-Encoding: base64\n` +
      `Content-Disposition: attachment; filename="file-${index}.${ext}"\n\n`);
    const lines = Math.max(1, Math.round(sizeBytes / BASE64_LINE_BYTES));
    const start = rng.int(0, pools.base64.lineCount - lines);
    chunks.push(pools.base64.pool.subarray(start * BASE64_LINE_BYTES, (start + lines) * BASE64_LINE_BYTES));
    chunks.push(`\n--${boundary}--\n\n`);
  } else if (kind > 0.65) {
    const boundary = `=_alt_${index}_${rng.next32().toString(16)}`;
    headers.push(`Content-Type: multipart/alternative; boundary="${boundary}"`, ...statusHeaders(rng));
    chunks.push(`${headers.join('\n')}\n\n--${boundary}\nContent-Type: text/plain; charset=utf-8\n` +
      `Content-Transfer-Encoding: 8bit\n\n${text}\n--${boundary}\nContent-Type: text/html; charset=utf-8\n` +
      `Content-Transfer-Encoding: 8bit\n\n${htmlFromText(text)}\n--${boundary}--\n\n`);
  } else {
    headers.push('Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', ...statusHeaders(rng));
    chunks.push(`${headers.join('\n')}\n\n${text}\n`);
  }
  return chunks;
}

/** Chooses a folder with the weights of TREE_FOLDERS. */
function pickFolder(rng) {
  const totalWeight = TREE_FOLDERS.reduce((sum, f) => sum + f.weight, 0);
  let r = rng.random() * totalWeight;
  for (const folder of TREE_FOLDERS) {
    r -= folder.weight;
    if (r < 0) return folder.path;
  }
  return TREE_FOLDERS[0].path;
}

class BatchedWriter {
  constructor(path) {
    this.fd = openSync(path, 'w');
    this.buffers = [];
    this.pendingBytes = 0;
    this.sizeBytes = 0;
    this.messages = 0;
  }

  push(chunk) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    this.buffers.push(buffer);
    this.pendingBytes += buffer.length;
    this.sizeBytes += buffer.length;
    if (this.pendingBytes >= 1024 * 1024 || this.buffers.length >= 256) this.flush();
  }

  flush() {
    let buffers = this.buffers;
    while (buffers.length > 0) {
      // writev may write less than asked (a signal, a full pipe); carry on from where it stopped.
      let written = writevSync(this.fd, buffers);
      let i = 0;
      while (i < buffers.length && written >= buffers[i].length) written -= buffers[i++].length;
      buffers = buffers.slice(i);
      if (written > 0) buffers[0] = buffers[0].subarray(written);
    }
    this.buffers = [];
    this.pendingBytes = 0;
  }

  close() {
    this.flush();
    closeSync(this.fd);
  }
}

/**
 * Writes the corpus. layout 'file': one mbox at `out`. layout 'tree': a directory `out` with one mbox file per
 * folder of TREE_FOLDERS (nested folders as nested directories, like cPanel's and UW-IMAP's mail/ trees).
 * Returns { messages, sizeBytes, files: [{ path, folder, messages, sizeBytes }], seconds }.
 */
export function generateMboxCorpus({ messages, seed = 1, out, layout = 'file' }) {
  const startedAt = process.hrtime.bigint();
  const poolRng = createRandom(seed ^ 0x5eed);
  const pools = { base64: buildBase64Pool(poolRng), text: buildTextPool(poolRng) };
  const writers = new Map();
  const writerFor = (folder) => {
    let writer = writers.get(folder);
    if (!writer) {
      const path = layout === 'tree' ? join(out, folder) : out;
      mkdirSync(dirname(path), { recursive: true });
      writer = new BatchedWriter(path);
      writer.folder = folder;
      writer.path = path;
      writers.set(folder, writer);
    }
    return writer;
  };
  if (layout === 'tree') {
    mkdirSync(out, { recursive: true });
    for (const folder of TREE_FOLDERS) writerFor(folder.path);
  } else {
    writerFor('INBOX');
  }
  const rng = createRandom(seed);
  let dateMs = Date.UTC(2012, 0, 2, 8, 0, 0);
  for (let index = 0; index < messages; index++) {
    dateMs += rng.int(60, 3600) * 1000;
    const folder = layout === 'tree' ? pickFolder(rng) : 'INBOX';
    const writer = writerFor(folder);
    for (const chunk of buildMessage(index, seed, dateMs, rng, pools)) writer.push(chunk);
    writer.messages++;
  }
  const files = [];
  for (const writer of writers.values()) {
    writer.close();
    files.push({ path: writer.path, folder: writer.folder, messages: writer.messages, sizeBytes: writer.sizeBytes });
  }
  return {
    messages,
    seed,
    layout,
    out,
    sizeBytes: files.reduce((sum, f) => sum + f.sizeBytes, 0),
    files,
    seconds: Number(process.hrtime.bigint() - startedAt) / 1e9,
  };
}

function main() {
  const usage = 'usage: node scripts/gen-mbox-corpus.mjs --messages N [--seed S] --out PATH [--layout file|tree] [--json]';
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        messages: { type: 'string' }, seed: { type: 'string', default: '1' }, out: { type: 'string' },
        layout: { type: 'string', default: 'file' }, json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    process.stderr.write(`${error.message}\n${usage}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const messages = Number(values.messages);
  const seed = Number(values.seed);
  if (!Number.isInteger(messages) || messages < 0 || !Number.isInteger(seed) || !values.out ||
    !['file', 'tree'].includes(values.layout)) {
    process.stderr.write(`${usage}\n`);
    return 2;
  }
  const summary = generateMboxCorpus({ messages, seed, out: values.out, layout: values.layout });
  if (values.json) {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } else {
    const mb = summary.sizeBytes / 1e6;
    process.stdout.write(`${summary.out}: ${messages} messages, ${mb.toFixed(1)} MB, seed ${seed}, ` +
      `${summary.files.length} file(s), ${summary.seconds.toFixed(1)} s (${(mb / summary.seconds).toFixed(0)} MB/s)\n`);
  }
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main();
