#!/usr/bin/env node
/**
 * Builds a fake cPanel server root (the parts mailshift reads: /etc domain maps and routing tables,
 * /var/cpanel/users, /home/USER/{mail,etc,...}) from a JSON manifest, deterministically from a seed.
 * Layout follows shared/reference/cpanel-layout.md.
 *
 *   node scripts/gen-cpanel-tree.mjs --manifest fixtures/cpanel/basic.json --out /tmp/t
 *   node scripts/gen-cpanel-tree.mjs --scale 1000x10x100 --out /dev/shm/cp   # accounts x mailboxes x messages
 *
 * Output: OUT/root (the cPanel root to point discover at), OUT/outside (canaries that must never be read: they
 * live outside the root on purpose) and OUT/truth.json: what the generator wrote (counts, bytes, newest delivery
 * per folder, expected findings). The truth is computed here while writing, independently of mailshift's reader,
 * so tests compare two separate accounts of the same tree.
 *
 * Manifest (see fixtures/cpanel/README.md for the full list of keys):
 *   { seed, now, accounts: [ { user, domains, format: maildir|mbox|mdbox, utf8Mailbox, home, cpuser,
 *       defaultMailbox: { folders }, mailboxes: [ { address, password, quotaBytes, maildirsize, folders,
 *       passwdEntry, mailDir, filter, roundcube } ], forwarders, domainForwarders, vfilters, autoresponders,
 *       spamassassin, horde, squirrelmail } ],
 *     raw: [ { path, symlink | content | sparseBytes | fifo | dir, mode, expect } ] }
 * A folder spec is { cur, new, tmp, noSize } (noSize = how many cur/ files carry no ",S=" so readers must stat).
 *
 * "Unreadable" files: tests run as root, and root reads a mode-000 file anyway (CAP_DAC_OVERRIDE). The generator
 * still writes such files with mode 000 (`"mode": 0`); tests that check the unreadable path run the reader with
 * CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH dropped (setpriv), where the kernel really answers EACCES.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** mulberry32: tiny, seedable, good enough to vary sizes and times reproducibly. */
export function createRandom(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (list) => list[Math.floor(next() * list.length)],
    hex: (len) => {
      let s = '';
      while (s.length < len) s += Math.floor(next() * 0x100000000).toString(16).padStart(8, '0');
      return s.slice(0, len);
    },
  };
}

/**
 * Modified UTF-7 (RFC 3501 §5.1.3), as Dovecot stores non-ASCII Maildir++ folder names. A deliberate second
 * implementation: the generator is the test oracle, so it must not share code with the reader it checks
 * (converters/folders/mutf7.ts), and it runs as plain node without a build.
 */
export function encodeMutf7(name) {
  let out = '';
  let pending = [];
  const flush = () => {
    if (pending.length === 0) return;
    const bytes = Buffer.alloc(pending.length * 2);
    pending.forEach((unit, i) => bytes.writeUInt16BE(unit, i * 2));
    out += `&${bytes.toString('base64').replace(/=+$/, '').replace(/\//g, ',')}-`;
    pending = [];
  };
  for (let i = 0; i < name.length; i++) {
    const unit = name.charCodeAt(i);
    if (unit >= 0x20 && unit <= 0x7e && unit !== 0x26) {
      flush();
      out += name[i];
    } else if (unit === 0x26) {
      flush();
      out += '&-';
    } else pending.push(unit);
  }
  flush();
  return out;
}

const defaultNow = Date.parse('2024-06-01T12:00:00Z');
const defaultStandardFolders = ['Drafts', 'Sent', 'Trash', 'Junk'];

function folderDirName(folder, utf8) {
  if (folder === 'INBOX') return '';
  const levels = folder.split('/');
  return `.${levels.map((l) => (utf8 ? l : encodeMutf7(l))).join('.')}`;
}

function mboxFileName(folder) {
  return folder === 'INBOX' ? 'inbox' : folder;
}

class Writer {
  constructor(outDir, seed) {
    this.out = outDir;
    this.root = path.join(outDir, 'root');
    this.outside = path.join(outDir, 'outside');
    this.rand = createRandom(seed);
    this.counter = 0;
    this.bodies = new Map();
    this.findings = [];
  }
  abs(rel) {
    return path.join(this.root, rel);
  }
  mkdir(rel, mode) {
    fs.mkdirSync(this.abs(rel), { recursive: true });
    if (mode !== undefined) fs.chmodSync(this.abs(rel), mode);
  }
  file(rel, content, mode) {
    const abs = this.abs(rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, content);
    if (mode !== undefined) fs.chmodSync(abs, mode);
  }
  /** A message of exactly sizeBytes bytes; bodies are cached per size so large trees are cheap to write. */
  messageBody(sizeBytes) {
    let body = this.bodies.get(sizeBytes);
    if (!body) {
      const header = `From: someone@example.net\nTo: x@example.com\nSubject: generated ${sizeBytes}\n\n`;
      const text = (header + 'lorem ipsum dolor sit amet\n'.repeat(Math.ceil(sizeBytes / 27) + 1)).slice(0, sizeBytes);
      body = Buffer.from(text, 'latin1');
      if (this.bodies.size < 5000) this.bodies.set(sizeBytes, body);
    }
    return body;
  }
}

/**
 * Writes one maildir folder (cur/new/tmp + messages) and returns its truth: messages, bytes, newest delivery.
 * Message names are Dovecot style: <secs>.M<usecs>P<pid>.<host>,S=<size>,W=<vsize>[:2,<flags>].
 */
function writeMaildirFolder(w, mailboxRel, folder, spec, now, utf8, isSubfolder) {
  const dirRel = path.join(mailboxRel, folderDirName(folder, utf8));
  for (const sub of ['cur', 'new', 'tmp']) w.mkdir(path.join(dirRel, sub));
  if (isSubfolder) w.file(path.join(dirRel, 'maildirfolder'), '');
  const r = w.rand;
  let messages = 0;
  let bytes = 0;
  let newestMs = null;
  const noSize = spec.noSize ?? 0;
  const emit = (where, index) => {
    const size = spec.sizeBytes ?? r.int(300, spec.maxBytes ?? 6000);
    const secs = Math.floor(now / 1000) - r.int(60, 365 * 86400);
    w.counter += 1;
    const base = `${secs}.M${r.int(0, 999999)}P${1000 + (w.counter % 60000)}Q${w.counter}.mail.example.com`;
    const withSize = !(where === 'cur' && index < noSize);
    const sizedBase = withSize ? `${base},S=${size},W=${size + 20}` : base;
    const name = where === 'cur' ? `${sizedBase}:2,${r.pick(['S', 'RS', 'FS', '', 'Sa'])}` : sizedBase;
    const abs = w.abs(path.join(dirRel, where, name));
    fs.writeFileSync(abs, w.messageBody(size));
    // Leave mtimes as written: discover dates deliveries from the name (Dovecot's <secs> prefix).
    messages += 1;
    bytes += size;
    const ms = secs * 1000;
    if (newestMs === null || ms > newestMs) newestMs = ms;
  };
  for (let i = 0; i < (spec.cur ?? 0); i++) emit('cur', i);
  for (let i = 0; i < (spec.new ?? 0); i++) emit('new', i);
  // Hand-written files (odd names, empty, sparse, unreadable): counted like any message, expected findings recorded.
  for (const f of spec.files ?? []) {
    const where = f.where ?? 'cur';
    const rel = path.join(dirRel, where, f.name);
    const abs = w.abs(rel);
    let size;
    if (f.sparseBytes !== undefined) {
      const fd = fs.openSync(abs, 'w');
      fs.ftruncateSync(fd, f.sparseBytes);
      fs.closeSync(fd);
      size = f.sparseBytes;
    } else {
      const content = Buffer.from(f.content ?? '');
      fs.writeFileSync(abs, content);
      size = content.length;
    }
    if (f.mode !== undefined) fs.chmodSync(abs, f.mode);
    if (f.expect) w.findings.push({ kind: f.expect, path: rel, ...(f.onlyWithStat ? { onlyWithStat: true } : {}) });
    // A name that is unsafe as a path is reported and never counted.
    if (f.expect === 'unsafe-name') continue;
    messages += 1;
    bytes += size;
    const secs = Number(/^(\d+)\./.exec(f.name)?.[1] ?? NaN);
    if (Number.isFinite(secs) && (newestMs === null || secs * 1000 > newestMs)) newestMs = secs * 1000;
  }
  for (let i = 0; i < (spec.tmp ?? 0); i++) {
    fs.writeFileSync(w.abs(path.join(dirRel, 'tmp', `${Math.floor(now / 1000)}.M${i}P1.tmpdelivery`)), 'partial');
  }
  return { dirName: folderDirName(folder, utf8), messages, bytes, newestDeliveryMs: newestMs, tmpFiles: spec.tmp ?? 0 };
}

function writeMaildirMailbox(w, mailboxRel, folders, now, utf8) {
  const truth = {};
  const spec = { INBOX: {}, ...Object.fromEntries(defaultStandardFolders.map((f) => [f, {}])), ...folders };
  for (const [folder, s] of Object.entries(spec)) truth[folder] = writeMaildirFolder(w, mailboxRel, folder, s, now, utf8, folder !== 'INBOX');
  w.file(path.join(mailboxRel, 'dovecot-uidlist'), '3 V1700000000 N1 G0123456789abcdef\n');
  w.file(path.join(mailboxRel, 'subscriptions'), `V\t2\n\n${Object.keys(spec).filter((f) => f !== 'INBOX').join('\n')}\n`);
  return truth;
}

/** mbox folders: one file per folder ("inbox" for INBOX), From_ separated, mboxrd-quoted body lines. */
function writeMboxMailbox(w, mailboxRel, folders, now) {
  const truth = {};
  const spec = { INBOX: { cur: 2 }, ...folders };
  w.mkdir(mailboxRel);
  for (const [folder, s] of Object.entries(spec)) {
    const count = (s.cur ?? 0) + (s.new ?? 0);
    let text = '';
    let newest = null;
    for (let i = 0; i < count; i++) {
      const secs = Math.floor(now / 1000) - w.rand.int(60, 365 * 86400);
      if (newest === null || secs > newest) newest = secs;
      const date = new Date(secs * 1000).toUTCString().replace(/^(\w+), (\d+) (\w+) (\d+) (\S+) GMT$/, '$1 $3 $2 $5 $4');
      // A body line starting with "From " is quoted (">From "), as every mbox writer does; counters must not split there.
      text += `From sender${i}@example.net ${date}\nFrom: sender${i}@example.net\nSubject: mbox ${folder} ${i}\nStatus: RO\n\nHello\n>From the quoted line\n\n`;
    }
    const rel = path.join(mailboxRel, mboxFileName(folder));
    w.file(rel, text);
    const mtime = new Date(newest === null ? now : newest * 1000);
    fs.utimesSync(w.abs(rel), mtime, mtime);
    truth[folder] = { fileName: mboxFileName(folder), messages: count, bytes: Buffer.byteLength(text), mtimeMs: mtime.getTime() };
  }
  return truth;
}

/** mdbox: storage/m.N holds many messages, mailboxes/NAME/dbox-Mails/ holds indexes. Counted in bytes only. */
function writeMdboxMailbox(w, mailboxRel, folders) {
  const spec = { INBOX: {}, ...Object.fromEntries(defaultStandardFolders.map((f) => [f, {}])), ...folders };
  let bytes = 0;
  for (let i = 1; i <= 2; i++) {
    const size = w.rand.int(1000, 9000);
    w.file(path.join(mailboxRel, 'storage', `m.${i}`), Buffer.alloc(size, 0x61));
    bytes += size;
  }
  w.file(path.join(mailboxRel, 'storage', 'dovecot.map.index'), 'idx');
  const truth = {};
  for (const folder of Object.keys(spec)) {
    w.file(path.join(mailboxRel, 'mailboxes', ...folder.split('/'), 'dbox-Mails', 'dovecot.index'), 'idx');
    truth[folder] = {};
  }
  return { folders: truth, storageBytes: bytes };
}

function shadowHash(w) {
  return `$6$${w.rand.hex(16)}$${w.rand.hex(86)}`;
}

function writeAccount(w, account, now, state) {
  const user = account.user;
  const home = account.home ?? `home/${user}`;
  const domains = account.domains ?? [`${user}.example`];
  const primary = domains[0];
  const format = account.format ?? 'maildir';
  const utf8 = Boolean(account.utf8Mailbox);
  const uid = 1000 + state.accounts.length;
  const truth = { user, home, domains, format, utf8Mailbox: utf8, mailboxes: {}, forwarders: 0, catchAlls: {}, domainForwarders: {}, autoresponders: [], extras: {} };

  if (account.cpuser !== false) {
    const lines = [`DNS=${primary}`, ...domains.slice(1).map((d, i) => `DNS${i + 1}=${d}`), `MAILBOX_FORMAT=${format}`,
      `UTF8MAILBOX=${utf8 ? 1 : 0}`, 'MAX_EMAILACCT_QUOTA=unlimited', 'OWNER=root', 'PLAN=default', `SUSPENDED=${account.suspended ? 1 : 0}`, `USER=${user}`];
    w.file(path.join('var/cpanel/users', user), `${lines.join('\n')}\n`);
  }
  if (account.inDomainMaps !== false) {
    state.trueuserdomains.push(`${primary}: ${user}`);
    for (const d of domains) state.userdomains.push(`${d}: ${user}`);
    state.domainusers.push(`${user}: ${primary}`);
    state.mailboxFormats.push(`${user}: ${format}`);
    for (const d of domains) state.localdomains.push(d);
  }
  state.passwd.push(`${user}:x:${uid}:${uid}::/${home}:/bin/bash`);

  w.mkdir(home, 0o711);
  w.mkdir(path.join(home, 'mail'), 0o751);
  w.mkdir(path.join(home, 'etc'), 0o750);
  w.file(path.join(home, 'mail', 'mailbox_format.cpanel'), `${format}\n`);

  const writeMailbox = (mailboxRel, folders) => {
    if (format === 'mbox') return { format, folders: writeMboxMailbox(w, mailboxRel, folders ?? {}, now) };
    if (format === 'mdbox') {
      const r = writeMdboxMailbox(w, mailboxRel, folders ?? {});
      return { format, folders: r.folders, storageBytes: r.storageBytes };
    }
    return { format, folders: writeMaildirMailbox(w, mailboxRel, folders ?? {}, now, utf8) };
  };

  // The account's own mailbox is ~/mail itself (cpanel-layout.md §2.1); never a quota (maildirsize 0S,0C).
  const def = writeMailbox(path.join(home, 'mail'), account.defaultMailbox?.folders);
  if (format === 'maildir') w.file(path.join(home, 'mail', 'maildirsize'), '0S,0C\n');
  truth.mailboxes[user] = { ...def, kind: 'default', path: path.join(home, 'mail'), quotaBytes: null, password: 'system', inPasswd: false };

  const byDomain = new Map(domains.map((d) => [d, { passwd: [], shadow: [], quota: [] }]));
  for (const mb of account.mailboxes ?? []) {
    const [local, domain] = mb.address.split('@');
    if (!byDomain.has(domain)) byDomain.set(domain, { passwd: [], shadow: [], quota: [] });
    const etc = byDomain.get(domain);
    const mailboxRel = path.join(home, 'mail', domain, local);
    if (mb.passwdEntry !== false) {
      etc.passwd.push(`${local}:x:${uid}:${uid}::/${mailboxRel}:/bin/bash`);
      const pw = mb.password ?? 'hash';
      const hash = pw === 'hash' ? shadowHash(w) : pw === 'locked' ? `!${shadowHash(w)}` : '';
      if (pw !== 'missing') etc.shadow.push(`${local}:${hash}:19700::::::`);
      if (hash) state.secrets.push(hash.replace(/^!/, ''));
      if (mb.quotaBytes !== undefined) etc.quota.push(`${local}:${mb.quotaBytes}`);
    }
    let t = { format, folders: {}, missing: true };
    if (mb.mailDir !== false) {
      t = writeMailbox(mailboxRel, mb.folders);
      if (format === 'maildir') {
        // cPanel's per-mailbox link from the default mailbox: relative, inside the account (cpanel-layout.md §2.4).
        fs.symlinkSync(path.join(domain, local), w.abs(path.join(home, 'mail', `.${local}@${domain.replace(/\./g, '_')}`)));
        if (mb.maildirsize !== false) {
          const used = Object.values(t.folders).reduce((s, f) => s + f.bytes, 0);
          const count = Object.values(t.folders).reduce((s, f) => s + f.messages, 0);
          const limit = mb.quotaBytes ?? 0;
          const line1 = `${limit}S,0C`;
          const lines = [line1, `${String(used).padStart(12)} ${String(count).padStart(6)}`];
          w.file(path.join(mailboxRel, 'maildirsize'), `${lines.join('\n')}\n`, 0o600);
          t.maildirsize = { limitBytes: limit, usedBytes: used, usedMessages: count };
        }
      }
    }
    if (mb.filter) {
      w.file(path.join(home, 'etc', domain, local, 'filter'), `# Exim filter - auto-generated by cPanel.\n#\nheaders charset "UTF-8"\n\n#spam\nif $header_subject contains "spam"\nthen\n  save "/dev/null" 660\nendif\n`);
      w.file(path.join(home, 'etc', domain, local, 'filter.yaml'), '---\nfilter:\n  - filtername: spam\n');
    }
    if (mb.roundcube) w.file(path.join(home, 'etc', domain, `${local}.rcube.db`), 'SQLite format 3\0', 0o600);
    truth.mailboxes[mb.address] = { ...t, kind: 'virtual', path: mailboxRel, quotaBytes: mb.quotaBytes ?? null,
      password: mb.passwdEntry === false ? 'missing' : (mb.password ?? 'hash'), inPasswd: mb.passwdEntry !== false, hasDir: mb.mailDir !== false,
      filter: Boolean(mb.filter), roundcube: Boolean(mb.roundcube) };
  }
  for (const [domain, lines] of Object.entries(account.extraPasswdLines ?? {})) {
    if (!byDomain.has(domain)) byDomain.set(domain, { passwd: [], shadow: [], quota: [] });
    byDomain.get(domain).passwd.push(...lines);
  }
  for (const [domain, etc] of byDomain) {
    w.mkdir(path.join(home, 'etc', domain), 0o750);
    w.file(path.join(home, 'etc', domain, 'passwd'), etc.passwd.map((l) => `${l}\n`).join(''), 0o640);
    w.file(path.join(home, 'etc', domain, 'shadow'), etc.shadow.map((l) => `${l}\n`).join(''), 0o640);
    w.file(path.join(home, 'etc', domain, 'quota'), etc.quota.map((l) => `${l}\n`).join(''), 0o640);
  }

  // Routing tables in /etc (cpanel-layout.md §4): every domain gets all three files.
  for (const domain of domains) {
    const fw = account.forwarders?.[domain] ?? {};
    const lines = [];
    for (const [key, dests] of Object.entries(fw)) {
      if (key === '*') continue;
      lines.push(`${key}: ${[].concat(dests).join(',')}`);
      truth.forwarders += 1;
    }
    const star = fw['*'] ?? ':fail: No Such User Here';
    lines.push(`*: ${star}`);
    truth.catchAlls[domain] = star;
    w.file(path.join('etc/valiases', domain), `${lines.join('\n')}\n`, 0o640);
    const dfw = account.domainForwarders?.[domain];
    w.file(path.join('etc/vdomainaliases', domain), dfw ? `${domain}: ${dfw}\n` : '', 0o640);
    if (dfw) truth.domainForwarders[domain] = dfw;
    const rules = account.vfilters?.[domain] ?? 0;
    let vf = '';
    if (rules > 0) {
      vf = '# Exim filter - auto-generated by cPanel.\n#\n# Do not manually edit this file.\n\nheaders charset "UTF-8"\n\n';
      for (let i = 0; i < rules; i++) vf += `#rule${i}\nif $header_subject contains "x${i}"\nthen\n  seen finish\nendif\n\n`;
    }
    w.file(path.join('etc/vfilters', domain), vf, 0o640);
  }
  truth.vfilterRules = Object.values(account.vfilters ?? {}).reduce((s, n) => s + n, 0);

  for (const ar of account.autoresponders ?? []) {
    w.file(path.join(home, '.autorespond', ar.address), `From: "Auto" <${ar.address}>\nSubject: Re: %subject%\nContent-Type: text/plain; charset="utf-8"\n\nI am away.\n`);
    w.file(path.join(home, '.autorespond', `${ar.address}.json`), JSON.stringify({ interval: 24, start: ar.start ?? null, stop: ar.stop ?? null, is_html: 0 }));
    truth.autoresponders.push(ar.address);
  }
  const sa = account.spamassassin;
  if (sa) {
    if (sa.enabled) w.file(path.join(home, '.spamassassinenable'), '');
    if (sa.spamBox) w.file(path.join(home, '.spamassassinboxenable'), '');
    if (sa.userPrefs) w.file(path.join(home, '.spamassassin', 'user_prefs'), 'required_score 4.0\n');
    if (sa.bayes) for (const f of ['bayes_toks', 'bayes_seen']) w.file(path.join(home, '.spamassassin', f), Buffer.alloc(4096, 1));
    truth.extras.spamassassin = sa;
  }
  if (account.horde) {
    w.file(path.join(home, '.cphorde', 'horde.sqlite'), 'SQLite format 3\0');
    truth.extras.horde = true;
  }
  if (account.squirrelmail) {
    for (const address of account.squirrelmail) {
      w.file(path.join(home, '.sqmaildata', `${address}.pref`), 'chosen_theme=default\n');
      w.file(path.join(home, '.sqmaildata', `${address}.abook`), 'nick|First|Last|x@example.net|\n');
    }
    truth.extras.squirrelmail = account.squirrelmail.length;
  }
  if (account.defaultFilter) {
    w.file(path.join(home, 'etc', 'filter'), '# Exim filter - auto-generated by cPanel.\n');
    truth.extras.defaultFilter = true;
  }
  state.accounts.push(truth);
}

/** Raw filesystem items, mostly hostile: symlinks out, FIFOs, sparse files, odd names, unreadable modes. */
function writeRaw(w, item, truth) {
  const rel = item.path;
  const abs = w.abs(rel);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  // Raw items may replace what an account wrote (a routing table turned into a link out of the tree).
  fs.rmSync(abs, { recursive: true, force: true });
  if (item.symlink !== undefined) {
    fs.symlinkSync(item.symlink.replaceAll('{outside}', w.outside), abs);
  } else if (item.fifo) {
    mkfifo(abs);
  } else if (item.dir) {
    fs.mkdirSync(abs, { recursive: true });
  } else if (item.sparseBytes !== undefined) {
    const fd = fs.openSync(abs, 'w');
    fs.ftruncateSync(fd, item.sparseBytes);
    fs.closeSync(fd);
  } else {
    fs.writeFileSync(abs, item.content ?? '');
  }
  if (item.mode !== undefined && item.symlink === undefined) fs.chmodSync(abs, item.mode);
  if (item.expect) {
    truth.expectedFindings.push({ kind: item.expect, path: item.expectAt ?? rel, ...(item.onlyWithoutDacOverride ? { onlyWithoutDacOverride: true } : {}) });
  }
}

/** Node has no mkfifo(); the generator may spawn mkfifo(1) (argv array, no shell). */
function mkfifo(abs) {
  execFileSync('mkfifo', ['--', abs]);
}

/** The outside area: a canary file and a canary directory that nothing may ever open. */
function writeOutside(w) {
  fs.mkdirSync(path.join(w.outside, 'canary-dir'), { recursive: true });
  fs.writeFileSync(path.join(w.outside, 'canary.txt'), 'CANARY: if mailshift read this, it followed a link out of the tree\n');
  fs.writeFileSync(path.join(w.outside, 'canary-dir', 'secret'), 'CANARY-DIR\n');
  for (const sub of ['cur', 'new', 'tmp']) fs.mkdirSync(path.join(w.outside, 'canary-dir', sub), { recursive: true });
  fs.writeFileSync(path.join(w.outside, 'canary-dir', 'cur', '1700000000.M1P1.evil,S=10:2,S'), 'CANARYMAIL');
}

export function generateCpanelTree(manifest, outDir) {
  const w = new Writer(outDir, manifest.seed ?? 1);
  const now = manifest.now ? Date.parse(manifest.now) : defaultNow;
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(w.root, { recursive: true });
  writeOutside(w);
  const state = { accounts: [], trueuserdomains: [], userdomains: [], domainusers: [], mailboxFormats: [], localdomains: [], passwd: [], secrets: [] };
  for (const dir of ['etc/valiases', 'etc/vdomainaliases', 'etc/vfilters']) w.mkdir(dir, 0o751);
  w.mkdir('var/cpanel/users');
  for (const account of manifest.accounts ?? []) writeAccount(w, account, now, state);
  w.file('etc/trueuserdomains', state.trueuserdomains.map((l) => `${l}\n`).join(''));
  w.file('etc/userdomains', [...state.userdomains, '*: nobody'].map((l) => `${l}\n`).join(''));
  w.file('etc/domainusers', state.domainusers.map((l) => `${l}\n`).join(''));
  w.file('etc/mailbox_formats', ['#mailbox_formats v1', ...state.mailboxFormats].map((l) => `${l}\n`).join(''));
  w.file('etc/localdomains', state.localdomains.map((l) => `${l}\n`).join(''));
  w.file('etc/passwd', ['root:x:0:0:root:/root:/bin/bash', ...state.passwd].map((l) => `${l}\n`).join(''));
  const truth = { root: w.root, outside: w.outside, canaries: [path.join(w.outside, 'canary.txt'), path.join(w.outside, 'canary-dir')],
    now, accounts: state.accounts, secrets: state.secrets, expectedFindings: [] };
  truth.expectedFindings.push(...w.findings, ...(manifest.expectFindings ?? []));
  for (const item of manifest.raw ?? []) writeRaw(w, item, truth);
  fs.writeFileSync(path.join(outDir, 'truth.json'), JSON.stringify(truth, null, 2));
  return truth;
}

/**
 * Scale mode: ACCOUNTS x MAILBOXES (per account, the default mailbox included) x MESSAGES (per mailbox). Written
 * directly, without the per-account extras, so a million files take seconds rather than minutes.
 */
export function generateScaleTree({ accounts, mailboxesPerAccount, messagesPerMailbox, seed = 7, maxMessageBytes = 4000 }, outDir) {
  const split = [['INBOX', 0.6], ['Sent', 0.2], ['Trash', 0.1], ['Drafts', 0.05], ['Junk', 0.05]];
  const perFolder = (n) => {
    const counts = split.map(([, f]) => Math.floor(n * f));
    counts[0] += n - counts.reduce((s, c) => s + c, 0);
    // maxBytes: messages up to ~4 KB keep the tree at about one page per file on tmpfs (1,000,000 files ~ 4 GB).
    return Object.fromEntries(split.map(([name], i) => [name, { cur: Math.floor(counts[i] * 0.9), new: counts[i] - Math.floor(counts[i] * 0.9), maxBytes: maxMessageBytes }]));
  };
  const manifest = { seed, accounts: [] };
  for (let a = 0; a < accounts; a++) {
    const user = `u${String(a).padStart(5, '0')}`;
    const domain = `${user}.example`;
    const mailboxes = [];
    for (let m = 1; m < mailboxesPerAccount; m++) mailboxes.push({ address: `box${m}@${domain}`, quotaBytes: 1073741824, folders: perFolder(messagesPerMailbox) });
    manifest.accounts.push({ user, domains: [domain], defaultMailbox: { folders: perFolder(messagesPerMailbox) }, mailboxes });
  }
  const truth = generateCpanelTree(manifest, outDir);
  let files = 0;
  let bytes = 0;
  for (const acct of truth.accounts) for (const mb of Object.values(acct.mailboxes)) for (const f of Object.values(mb.folders)) { files += f.messages; bytes += f.bytes; }
  return { truth, files, bytes };
}

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--manifest' || a === '--out' || a === '--scale' || a === '--seed') args[a.slice(2)] = argv[++i];
    else if (a === '--help' || a === '-h') args.help = true;
    else throw new Error(`unknown argument: ${a}`);
  }
  return args;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = parseArgs(process.argv.slice(2));
  if (args.help || !args.out || (!args.manifest && !args.scale)) {
    process.stdout.write('usage: gen-cpanel-tree.mjs (--manifest FILE | --scale AxMxK) --out DIR [--seed N]\n');
    process.exit(args.help ? 0 : 2);
  }
  const started = Date.now();
  if (args.scale) {
    const [accounts, mailboxesPerAccount, messagesPerMailbox] = args.scale.split('x').map(Number);
    const { files, bytes } = generateScaleTree({ accounts, mailboxesPerAccount, messagesPerMailbox, seed: Number(args.seed ?? 7) }, args.out);
    process.stdout.write(`${JSON.stringify({ root: path.join(args.out, 'root'), accounts, mailboxes: accounts * mailboxesPerAccount, messageFiles: files, bytes, ms: Date.now() - started })}\n`);
  } else {
    const manifest = JSON.parse(fs.readFileSync(args.manifest, 'utf8'));
    if (args.seed) manifest.seed = Number(args.seed);
    const truth = generateCpanelTree(manifest, args.out);
    process.stdout.write(`${JSON.stringify({ root: truth.root, truth: path.join(args.out, 'truth.json'), ms: Date.now() - started })}\n`);
  }
}
