// Benchmark (a small measurement, not a race): `mailshift export imap://... ARCHIVE.tar.gz` streams the account
// into the archive (src/archive/export-store.ts). Its peak RSS should not grow with the account: the same export of
// accounts of several sizes, each timed once, with the client's peak RSS and the disk space beside the archive.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateMboxCorpus } from '../scripts/gen-mbox-corpus.mjs';
import { log, logMachine, parseSizes, readBenchOptions } from './lib/cli.mjs';
import { startBenchImapServer } from './lib/imap-server.mjs';
import { countMaildirMessages } from './lib/maildir.mjs';
import { runMeasured } from './lib/measure.mjs';
import { REPO_DIR, writeResultJson } from './lib/results.mjs';
import { openScratch } from './lib/scratch.mjs';
import { formatMegabytes, formatSeconds, formatTable } from './lib/table.mjs';

export const summary = 'export an IMAP account into a cpmove tar: peak RSS against the account size (streamed)';

export const usage = `usage: npm run bench -- export [options]

Seeds a Dovecot IMAP server on 127.0.0.1 (plaintext, loopback) with generated accounts of each size and exports each
once with mailshift export imap://... ARCHIVE.tar.gz, measuring wall time and the client's peak RSS. Prints a table;
writes bench/out/export-<time>.json. Peak RSS that stays the same while the account grows is what it shows.

options:
  --sizes a,b,...  account sizes in messages (default 1000,10000)
  --quick          200,1000 (a smoke test of the harness)
  --seed N         corpus seed (default 1)
  --cli PATH       mailshift CLI to time (default dist/bin/mailshift.js)`;

/** The generator's messages average about 18 KB in a maildir (10,000: 179 MB). */
const ESTIMATED_BYTES_PER_MESSAGE = 20 * 1024;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: { sizes: { type: 'string' }, quick: { type: 'boolean' }, seed: { type: 'string' }, cli: { type: 'string' }, help: { type: 'boolean' } },
    strict: true,
  });
  const sizes = parseSizes(values.sizes ?? (values.quick ? '200,1000' : '1000,10000'), 1);
  return { help: values.help, sizes, seed: Number(values.seed ?? 1), cliPath: resolve(values.cli ?? join(REPO_DIR, 'dist/bin/mailshift.js')) };
}

export async function main(argv) {
  const read = readBenchOptions('export', argv, parseOptions, usage);
  if (!read.options) return read.exitCode;
  const { options } = read;
  const machine = logMachine();
  // Every account's maildir and archive at once, and the corpus of one.
  const total = options.sizes.reduce((sum, n) => sum + n, 0);
  const scratch = openScratch({ label: 'export', sizeBytes: total * ESTIMATED_BYTES_PER_MESSAGE * 2 + Math.max(...options.sizes) * ESTIMATED_BYTES_PER_MESSAGE + 256 * 1024 * 1024 });
  const users = options.sizes.map((_n, i) => `user${i}`);
  let server;
  const rows = [];
  try {
    server = await startBenchImapServer(join(scratch.dir, 'server'), users);
    for (const [i, messages] of options.sizes.entries()) {
      const account = server.accounts[users[i]];
      const corpus = join(scratch.dir, `corpus-${i}.mbox`);
      generateMboxCorpus({ messages, seed: options.seed, out: corpus });
      rmSync(account.maildir, { recursive: true, force: true });
      const converted = spawnSync(process.execPath, [options.cliPath, 'convert', corpus, account.maildir], { encoding: 'utf8' });
      if (converted.status !== 0) throw new Error(`seeding ${account.user} failed: ${converted.stderr}`);
      rmSync(corpus);
      server.fixOwnership();
      const seeded = countMaildirMessages(account.maildir);
      const outDir = join(scratch.dir, `out-${i}`);
      mkdirSync(outDir);
      const passwordFile = join(scratch.dir, `${account.user}.password`);
      writeFileSync(passwordFile, `${account.password}\n`, { mode: 0o600 });
      const archive = join(outDir, 'account.tar.gz');
      log(`${account.user}: ${seeded.messages} messages, ${formatMegabytes(seeded.sizeBytes)} MB; exporting ...`);
      const measured = await runMeasured([process.execPath, options.cliPath, 'export', `imap://${account.user}@127.0.0.1:${server.port}`, archive, '--mailbox', `${account.user}@example.com`, '--password-file', passwordFile]);
      if (measured.exitCode !== 0) throw new Error(`export of ${account.user} exited ${measured.exitCode}: ${measured.stderr}`);
      const beside = readdirSync(outDir);
      rows.push({
        messages: seeded.messages,
        sourceBytes: seeded.sizeBytes,
        wallSeconds: measured.wallSeconds,
        peakRssBytes: measured.peakRssBytes,
        archiveBytes: statSync(archive).size,
        besideArchive: beside,
        rssTimeline: measured.rssTimeline,
      });
    }
  } finally {
    await server?.stop();
    scratch.releaseSync();
  }
  const table = formatTable(
    ['messages', 'account MB', 'wall s', 'peak RSS MB', 'archive MB', 'files beside the archive'],
    rows.map((r) => [String(r.messages), formatMegabytes(r.sourceBytes), formatSeconds(r.wallSeconds), formatMegabytes(r.peakRssBytes), formatMegabytes(r.archiveBytes), r.besideArchive.join(' ')]),
  );
  process.stdout.write(`${table}\n`);
  const file = writeResultJson('export', { benchmark: 'export', command: `node bench/run.mjs export${argv.length ? ` ${argv.join(' ')}` : ''}`, machine, options: { sizes: options.sizes, seed: options.seed }, rows });
  log(`results: ${file}`);
  return 0;
}
