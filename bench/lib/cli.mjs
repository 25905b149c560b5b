// What every benchmark's main() starts with: its options read, --help answered, a bad option refused.
import { join } from 'node:path';
import { hasGnuTime } from './measure.mjs';
import { formatMachineLine, readMachineInfo, REPO_DIR } from './results.mjs';

/** The CLI a benchmark times unless --cli names another build. */
export const MAILSHIFT_CLI = join(REPO_DIR, 'dist', 'bin', 'mailshift.js');

/** The options of the side-by-side benchmarks (copy, discover, archive), for node:util parseArgs. */
export const sideBySideOptions = {
  runs: { type: 'string' },
  'timeout-s': { type: 'string' },
  cli: { type: 'string' },
  strict: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
};

/** sideBySideOptions' values, read with the benchmark's own defaults: rounds and the per-run limit in seconds. */
export function readSideBySideValues(values, defaults) {
  return {
    help: values.help,
    runs: Number(values.runs ?? defaults.runs),
    timeoutMs: Number(values['timeout-s'] ?? defaults.timeoutS) * 1000,
    cli: values.cli ?? MAILSHIFT_CLI,
    strict: values.strict,
  };
}

/** `--scale AxMxK`: accounts, mailboxes per account, messages per mailbox (scripts/gen-cpanel-tree.mjs's shape). */
export function parseScale(text) {
  const m = /^(\d+)x(\d+)x(\d+)$/.exec(text);
  if (!m) throw new Error(`--scale wants AxMxK, got ${text}`);
  return { accounts: Number(m[1]), mailboxesPerAccount: Number(m[2]), messagesPerMailbox: Number(m[3]) };
}

/** `--sizes a,b,...`: mailbox sizes in messages, whole numbers of at least `min`. */
export function parseSizes(text, min) {
  const sizes = text.split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < min)) throw new Error(`--sizes: whole numbers, ${min} or more`);
  return sizes;
}

/** The machine a benchmark runs on, logged, with a note when GNU time is missing (peak RSS then only sampled). */
export function logMachine() {
  const machine = readMachineInfo();
  log(formatMachineLine(machine));
  if (!hasGnuTime()) log('note: /usr/bin/time missing, peak RSS is sampled only');
  return machine;
}

/**
 * Reads a benchmark's options with its own parser. Returns `{ options }` to run with, or `{ exitCode }` once the
 * usage was printed: 0 for --help (on stdout), 2 for an option the parser refused (on stderr, with the reason).
 */
export function readBenchOptions(name, argv, parseOptions, usage) {
  let options;
  try {
    options = parseOptions(argv);
  } catch (error) {
    process.stderr.write(`bench ${name}: ${error.message}\n\n${usage}\n`);
    return { exitCode: 2 };
  }
  if (options.help) {
    process.stdout.write(`${usage}\n`);
    return { exitCode: 0 };
  }
  return { options };
}

/** Progress lines go to stderr: stdout is kept for the tables. */
export function log(text) {
  process.stderr.write(`${text}\n`);
}
