// Benchmark (a small measurement, not a race): `mailshift copy cpmove:BACKUP#box@domain imap://...` streams one
// mailbox of a cPanel backup into an IMAP account (src/archive/imap-restore.ts), one pass, nothing staged on disk. Its
// peak RSS should not grow with the mailbox: the same restore of mailboxes of several sizes, each timed once, with
// the client's peak RSS and what it left in its state directory.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateScaleTree } from '../scripts/gen-cpanel-tree.mjs';
import { log, logMachine, parseSizes, readBenchOptions } from './lib/cli.mjs';
import { startBenchImapServer } from './lib/imap-server.mjs';
import { countMaildirMessages } from './lib/maildir.mjs';
import { runMeasured } from './lib/measure.mjs';
import { REPO_DIR, writeResultJson } from './lib/results.mjs';
import { openScratch } from './lib/scratch.mjs';
import { formatMegabytes, formatSeconds, formatTable } from './lib/table.mjs';

export const summary = 'restore one mailbox of a cpmove backup into an IMAP account: peak RSS against the mailbox size (streamed)';

export const usage = `usage: npm run bench -- restore-imap [options]

For each size, generates a seeded cPanel account (scripts/gen-cpanel-tree.mjs) whose mailbox box1 holds that many
messages over five folders, packs it as pkgacct does (GNU tar, gzip), starts a Dovecot IMAP server on 127.0.0.1
(plaintext, loopback) and restores the mailbox once with
  mailshift copy cpmove:BACKUP#box1@DOMAIN imap://USER@127.0.0.1:PORT --state-dir STATE
measuring wall time and the client's peak RSS, and checking that the account then holds every message. Prints a
table; writes bench/out/restore-imap-<time>.json. Peak RSS that stays the same while the mailbox grows is what it
shows; STATE stays empty (nothing is staged).

options:
  --sizes a,b,...  mailbox sizes in messages (default 2000,20000)
  --quick          200,1000 (a smoke test of the harness)
  --cli PATH       mailshift CLI to time (default dist/bin/mailshift.js)`;

/** The generator's messages, up to 4 KB each, with the tar, the account's maildir and Dovecot's indexes. */
const ESTIMATED_BYTES_PER_MESSAGE = 16 * 1024;

function parseOptions(argv) {
  const { values } = parseArgs({ args: argv, options: { sizes: { type: 'string' }, quick: { type: 'boolean' }, cli: { type: 'string' }, help: { type: 'boolean' } }, strict: true });
  const sizes = parseSizes(values.sizes ?? (values.quick ? '200,1000' : '2000,20000'), 10);
  return { help: values.help, sizes, cliPath: resolve(values.cli ?? join(REPO_DIR, 'dist/bin/mailshift.js')) };
}

export async function main(argv) {
  const read = readBenchOptions('restore-imap', argv, parseOptions, usage);
  if (!read.options) return read.exitCode;
  const { options } = read;
  const machine = logMachine();
  const total = options.sizes.reduce((sum, n) => sum + n, 0);
  const scratch = openScratch({ label: 'restore-imap', sizeBytes: total * ESTIMATED_BYTES_PER_MESSAGE * 2 + 256 * 1024 * 1024 });
  const users = options.sizes.map((_n, i) => `user${i}`);
  let server;
  const rows = [];
  try {
    server = await startBenchImapServer(join(scratch.dir, 'server'), users);
    for (const [i, messages] of options.sizes.entries()) {
      const account = server.accounts[users[i]];
      const { truth } = generateScaleTree({ accounts: 1, mailboxesPerAccount: 2, messagesPerMailbox: messages }, join(scratch.dir, `tree-${i}`));
      const user = truth.accounts[0].user;
      const domain = `${user}.example`;
      const expected = countMaildirMessages(join(truth.root, 'home', user, 'mail', domain, 'box1'));
      const backup = join(scratch.dir, `cpmove-${user}-${i}.tar.gz`);
      const tar = spawnSync('tar', ['-czf', backup, '--format=gnu', `--transform=s,^home/${user}/,cpmove-${user}/homedir/,`, '-C', truth.root, `home/${user}/mail`], { encoding: 'utf8' });
      if (tar.status !== 0) throw new Error(`tar: ${tar.stderr}`);
      const passwordFile = join(scratch.dir, `${account.user}.password`);
      writeFileSync(passwordFile, `${account.password}\n`, { mode: 0o600 });
      const stateDir = join(scratch.dir, `state-${i}`);
      mkdirSync(stateDir);
      log(`box1@${domain}: ${expected.messages} messages, ${formatMegabytes(expected.sizeBytes)} MB, backup ${formatMegabytes(statSync(backup).size)} MB; restoring ...`);
      const measured = await runMeasured([process.execPath, options.cliPath, 'copy', `cpmove:${backup}#box1@${domain}`, `imap://${account.user}@127.0.0.1:${server.port}`, '--password-file', passwordFile, '--state-dir', stateDir]);
      if (measured.exitCode !== 0) throw new Error(`restore into ${account.user} exited ${measured.exitCode}: ${measured.stderr}`);
      const served = countMaildirMessages(account.maildir);
      if (served.messages !== expected.messages) throw new Error(`${account.user} holds ${served.messages} messages, the mailbox ${expected.messages}`);
      rows.push({
        messages: expected.messages,
        mailboxBytes: expected.sizeBytes,
        backupBytes: statSync(backup).size,
        wallSeconds: measured.wallSeconds,
        peakRssBytes: measured.peakRssBytes,
        stateDirEntries: readdirSync(stateDir),
        rssTimeline: measured.rssTimeline,
      });
    }
  } finally {
    await server?.stop();
    scratch.releaseSync();
  }
  const table = formatTable(
    ['messages', 'mailbox MB', 'backup MB', 'wall s', 'peak RSS MB', 'in the state dir'],
    rows.map((r) => [String(r.messages), formatMegabytes(r.mailboxBytes), formatMegabytes(r.backupBytes), formatSeconds(r.wallSeconds), formatMegabytes(r.peakRssBytes), r.stateDirEntries.join(' ') || '(nothing)']),
  );
  process.stdout.write(`${table}\n`);
  const file = writeResultJson('restore-imap', { benchmark: 'restore-imap', command: `node bench/run.mjs restore-imap${argv.length ? ` ${argv.join(' ')}` : ''}`, machine, options: { sizes: options.sizes }, rows });
  log(`results: ${file}`);
  return 0;
}
