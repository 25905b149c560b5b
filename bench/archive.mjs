// Benchmark: restoring a cPanel backup (cpmove-USER.tar.gz) with `mailshift copy BACKUP cpanel:DST#USER`, against
// what an admin does without it: `tar xzf` the backup to disk, then `rsync -a` the mail into place. Issue 17's
// target: faster than extract-then-rsync, and no temporary copy on disk.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateScaleTree } from '../scripts/gen-cpanel-tree.mjs';
import { readBenchOptions, readSideBySideValues, sideBySideOptions } from './lib/cli.mjs';
import { countMaildirMessages } from './lib/maildir.mjs';
import { readVersion } from './lib/measure.mjs';
import { formatMachineLine, readMachineInfo, writeResultJson } from './lib/results.mjs';
import { openScratch } from './lib/scratch.mjs';
import { runSideBySide } from './lib/side-by-side.mjs';
import { summarizeToolRuns } from './lib/stats.mjs';
import { formatMegabytes, formatSeconds, formatTable } from './lib/table.mjs';

export const summary = 'restore a cpmove backup: mailshift copy BACKUP cpanel:ROOT#USER vs tar xzf + rsync -a (2 GB)';

export const usage = `usage: npm run bench -- archive [options]

Generates one seeded cPanel account (scripts/gen-cpanel-tree.mjs: the default mailbox plus 9 mailboxes) of about
--size-mb of mail, packs it as pkgacct does (cpmove-USER/homedir/mail, homedir/etc, cp/USER; GNU tar, gzip), then
restores it into a fresh cPanel root with, alternating round by round:
  mailshift copy BACKUP cpanel:DST#USER --no-chown --json      one pass over the archive, straight into place
  sh -c 'tar xzf BACKUP -C STAGE && rsync -a STAGE/cpmove-USER/homedir/ DST/home/USER/'   extract, then copy
Each run is checked (every message file of the source is in the target: count and bytes) and measured: wall time,
peak RSS of the process tree, and disk used at the end of the run (target plus anything staged; the staging copy
of the extract-then-rsync run is removed only after the measurement). Target (issue 17): mailshift faster than
extract-then-rsync, with no staging copy.

options:
  --size-mb N           mail in the account, about (default 2048)
  --max-message-bytes N largest generated message (default 64000; messages are spread up to it)
  --runs N              rounds (default 2)
  --fs tmpfs|ext4       scratch filesystem (default tmpfs; ext4 is a loop-mounted image, closer to a disk)
  --timeout-s N         per-run time limit (default 1800)
  --cli PATH            mailshift CLI to time (default dist/bin/mailshift.js)
  --strict              exit 1 when a check fails or the target is missed`;

const MAILBOXES = 10;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      'size-mb': { type: 'string' },
      'max-message-bytes': { type: 'string' },
      fs: { type: 'string' },
      ...sideBySideOptions,
    },
  });
  const sizeMb = Number(values['size-mb'] ?? 2048);
  const maxMessageBytes = Number(values['max-message-bytes'] ?? 64000);
  if (!(sizeMb > 0) || !(maxMessageBytes >= 1000)) throw new Error('--size-mb wants a positive number and --max-message-bytes at least 1000');
  const fs = values.fs ?? 'tmpfs';
  if (fs !== 'tmpfs' && fs !== 'ext4') throw new Error('--fs is tmpfs or ext4');
  return {
    ...readSideBySideValues(values, { runs: 2, timeoutS: 1800 }),
    sizeMb,
    maxMessageBytes,
    // Message sizes are spread evenly up to the maximum: about half of it on average.
    messagesPerMailbox: Math.max(10, Math.round((sizeMb * 1e6) / (maxMessageBytes / 2) / MAILBOXES)),
    fs,
  };
}

/** Pure: issue 17's target. null = not decidable (a side had no successful run). */
export function decideTarget(byTool, diskByTool) {
  const mine = byTool.mailshift?.medianWallSeconds;
  const theirs = byTool['tar+rsync']?.medianWallSeconds;
  const ratio = mine != null && theirs ? mine / theirs : null;
  const noStaging = diskByTool.mailshift?.stagedBytes === 0;
  return { ratioToExtractThenRsync: ratio, faster: ratio === null ? null : ratio < 1, noStagingCopy: diskByTool.mailshift ? noStaging : null };
}

const verdict = (value) => (value === null ? 'n/a' : value ? 'pass' : 'FAIL');

/** Bytes a directory takes on disk (du -s, in 1024-byte blocks), 0 when it is gone. */
function diskBytes(dir) {
  const result = spawnSync('du', ['-sk', dir], { encoding: 'utf8' });
  if (result.status !== 0) return 0;
  return Number(result.stdout.split('\t')[0]) * 1024;
}

export async function main(argv) {
  const parsed = readBenchOptions('archive', argv, parseOptions, usage);
  if (!parsed.options) return parsed.exitCode;
  const { options } = parsed;
  const sourceBytesGuess = options.sizeMb * 1024 * 1024;
  // Source tree, the backup (incompressible-ish text compresses ~3x; counted at full size to be safe), a staging
  // copy and a target at the same time, plus a margin.
  const scratch = openScratch({ label: 'archive', sizeBytes: Math.ceil(sourceBytesGuess * 4.5) + 512 * 1024 * 1024, fsType: options.fs });
  const machine = readMachineInfo();
  process.stderr.write(`machine: ${formatMachineLine(machine)}\nscratch: ${scratch.dir} (${scratch.kind})\n`);
  try {
    const started = process.hrtime.bigint();
    const { truth, files: written, bytes } = generateScaleTree(
      { accounts: 1, mailboxesPerAccount: MAILBOXES, messagesPerMailbox: options.messagesPerMailbox, maxMessageBytes: options.maxMessageBytes },
      join(scratch.dir, 'tree'),
    );
    const root = truth.root;
    const user = truth.accounts[0].user;
    const sourceMail = join(root, 'home', user, 'mail');
    const sourceCount = countMaildirMessages(sourceMail);
    // Laid out as pkgacct lays it out: cpmove-USER/homedir/{mail,etc}, cp/USER.
    const backup = join(scratch.dir, `cpmove-${user}.tar.gz`);
    const cpDir = join(scratch.dir, 'cp');
    mkdirSync(cpDir, { recursive: true });
    writeFileSync(join(cpDir, user), `USER=${user}\nDNS=${truth.accounts[0].domains?.[0] ?? `${user}.example`}\n`);
    const tar = spawnSync(
      'tar',
      ['-czf', backup, '--format=gnu', `--transform=s,^home/${user}/,cpmove-${user}/homedir/,`, `--transform=s,^cp/,cpmove-${user}/cp/,`, '-C', root, `home/${user}/mail`, `home/${user}/etc`, '-C', scratch.dir, `cp/${user}`],
      { encoding: 'utf8' },
    );
    if (tar.status !== 0) throw new Error(`tar: ${tar.stderr}`);
    const backupBytes = statSync(backup).size;
    const generateSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    process.stderr.write(
      `account: ${MAILBOXES} mailboxes, ${written} message files, ${formatMegabytes(bytes)} MB; backup ${formatMegabytes(backupBytes)} MB (gzip); prepared in ${formatSeconds(generateSeconds)} s\n`,
    );

    const targetRoot = (name) => join(scratch.dir, `target-${name}`);
    const stageDir = join(scratch.dir, 'stage');
    const makeTarget = (name) => {
      const dst = targetRoot(name);
      rmSync(dst, { recursive: true, force: true });
      for (const dir of ['etc/valiases', 'etc/vfilters', 'etc/vdomainaliases', `home/${user}`]) mkdirSync(join(dst, dir), { recursive: true });
      writeFileSync(join(dst, 'etc/passwd'), `root:x:0:0::/root:/bin/bash\n${user}:x:5001:5001::/home/${user}:/bin/bash\n`);
      writeFileSync(join(dst, 'etc/group'), `root:x:0:\nmail:x:8:\n${user}:x:5001:\n`);
      return dst;
    };
    const disk = new Map();
    const checkTarget = (name, measured) => {
      const targetBytes = diskBytes(targetRoot(name));
      const stagedBytes = diskBytes(stageDir);
      disk.set(name, [...(disk.get(name) ?? []), { targetBytes, stagedBytes }]);
      // mailshift lists the mdbox-free generated account as complete: exit 0. tar+rsync: the shell's status.
      if (measured.exitCode !== 0) return { ok: false, detail: `exit ${measured.exitCode}: ${measured.stderr.slice(-300)}` };
      const copied = countMaildirMessages(join(targetRoot(name), 'home', user, 'mail'));
      const ok = copied.messages === sourceCount.messages && copied.sizeBytes === sourceCount.sizeBytes;
      return { ok, messages: copied.messages, targetBytes, stagedBytes, detail: ok ? 'every message file arrived' : `${copied.messages} files / ${copied.sizeBytes} bytes, source ${sourceCount.messages} / ${sourceCount.sizeBytes}` };
    };
    const cleanup = (name) => async () => {
      rmSync(targetRoot(name), { recursive: true, force: true });
      rmSync(stageDir, { recursive: true, force: true });
    };
    const contenders = [
      {
        name: 'mailshift',
        prepare: async () => {
          const dst = makeTarget('mailshift');
          return { argv: [process.execPath, options.cli, '--json', '--quiet', 'copy', '--no-chown', backup, `cpanel:${dst}#${user}`] };
        },
        verify: async (_run, measured) => checkTarget('mailshift', measured),
        cleanup: cleanup('mailshift'),
      },
      {
        name: 'tar+rsync',
        prepare: async () => {
          const dst = makeTarget('tar+rsync');
          mkdirSync(stageDir, { recursive: true });
          const script = 'tar xzf "$1" -C "$2" && rsync -a "$2/cpmove-$3/homedir/" "$4/home/$3/"';
          return { argv: ['sh', '-c', script, 'sh', backup, stageDir, user, dst] };
        },
        verify: async (_run, measured) => checkTarget('tar+rsync', measured),
        cleanup: cleanup('tar+rsync'),
      },
    ];

    const records = await runSideBySide({
      contenders,
      rounds: options.runs,
      timeoutMs: options.timeoutMs,
      onRun: (r) =>
        process.stderr.write(
          `  round ${r.round} ${r.tool.padEnd(10)} ${formatSeconds(r.wallSeconds)} s  ${formatMegabytes(r.peakRssBytes)} MB RSS  disk ${formatMegabytes((r.verification?.targetBytes ?? 0) + (r.verification?.stagedBytes ?? 0))} MB  ${r.verification?.ok ? 'ok' : `FAILED: ${r.verification?.detail}`}\n`,
        ),
    });
    const names = contenders.map((c) => c.name);
    const byTool = summarizeToolRuns(records, names);
    const diskByTool = Object.fromEntries(
      names.map((n) => {
        const runs = disk.get(n) ?? [];
        return [n, runs.length ? { targetBytes: Math.max(...runs.map((r) => r.targetBytes)), stagedBytes: Math.max(...runs.map((r) => r.stagedBytes)) } : null];
      }),
    );
    const target = decideTarget(byTool, diskByTool);
    const labels = { mailshift: 'mailshift copy BACKUP (--no-chown)', 'tar+rsync': 'tar xzf + rsync -a' };
    const table = formatTable(
      ['tool', 'runs ok', 'median wall s', 'best wall s', 'MB/s (median)', 'peak RSS MB', 'disk used MB (target + staged)'],
      names.map((n) => [
        labels[n],
        `${byTool[n].okRuns}/${byTool[n].runs}`,
        formatSeconds(byTool[n].medianWallSeconds),
        formatSeconds(byTool[n].bestWallSeconds),
        byTool[n].medianWallSeconds ? (bytes / 1e6 / byTool[n].medianWallSeconds).toFixed(0) : null,
        formatMegabytes(byTool[n].worstPeakRssBytes),
        diskByTool[n] ? `${formatMegabytes(diskByTool[n].targetBytes + diskByTool[n].stagedBytes)} (${formatMegabytes(diskByTool[n].targetBytes)} + ${formatMegabytes(diskByTool[n].stagedBytes)})` : null,
      ]),
    );
    const lines = [
      '',
      `1 account, ${MAILBOXES} mailboxes, ${written.toLocaleString('en-US')} message files (${formatMegabytes(bytes)} MB), backup ${formatMegabytes(backupBytes)} MB, on ${scratch.kind}`,
      '',
      table,
      `mailshift / (tar xzf + rsync -a), median: ${target.ratioToExtractThenRsync === null ? 'n/a' : `${target.ratioToExtractThenRsync.toFixed(3)}x`}  target faster: ${verdict(target.faster)}  no staging copy: ${verdict(target.noStagingCopy)}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    const resultPath = writeResultJson('archive', {
      command: `node bench/run.mjs archive ${argv.join(' ')}`.trim(),
      machine,
      scratch: { kind: scratch.kind, sizeBytes: scratch.sizeBytes },
      tree: { accounts: 1, mailboxes: MAILBOXES, messageFiles: written, bytes, backupBytes, generateSeconds },
      versions: { rsync: readVersion(['rsync', '--version'], /rsync\s+version\s+(\S+)/), tar: readVersion(['tar', '--version'], /tar\)\s+(\S+)/), node: process.version },
      records: records.map(({ stdout, ...rest }) => ({ ...rest, stdoutBytes: stdout?.length ?? 0 })),
      summary: byTool,
      disk: diskByTool,
      target,
    });
    process.stdout.write(`full record: ${resultPath}\n`);
    const failed = records.some((r) => !r.verification?.ok) || target.faster === false || target.noStagingCopy === false;
    return options.strict && failed ? 1 : 0;
  } finally {
    scratch.releaseSync();
  }
}
