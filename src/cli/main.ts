#!/usr/bin/env -S node --max-semi-space-size=1
// The shebang's option keeps V8's young generation small (Node 20's default semi-spaces took ~40 MB of peak RSS in
// the convert benchmark): mailshift streams, so most objects die young anyway. It applies to the installed
// `mailshift` command and to running this file directly; `node dist/bin/mailshift.js` uses Node's defaults.
import { readFileSync } from 'node:fs';
import { CommanderError } from 'commander';
import { createLogger, type Logger, type LogLevel } from '../core/logger.js';
import { ExitCode, type ExitCodeValue } from '../core/exit-codes.js';
import { isMailshiftError, MailshiftError } from '../core/errors.js';
import { findUrlSecrets, maskUrlSecrets } from '../core/secrets.js';
import { buildProgram } from './program.js';
import type { CliContext, GlobalOptions } from './context.js';
import { formatError } from './render.js';

// The only module that exits the process: everything below reports through setExitCode or by throwing.
async function main(argv: string[]): Promise<ExitCodeValue> {
  const controller = new AbortController();
  let interrupts = 0;
  process.on('SIGINT', () => {
    interrupts += 1;
    if (interrupts > 1) process.exit(ExitCode.interrupted);
    process.stderr.write('\ninterrupted: finishing the current step, press Ctrl-C again to stop at once\n');
    controller.abort();
  });
  process.on('SIGTERM', () => controller.abort());
  // `mailshift ... | head`: the reader went away. Stop quietly, as cat and git do, instead of an unhandled EPIPE.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      controller.abort();
      process.exit(exitCode);
    });
  }

  let exitCode: ExitCodeValue = ExitCode.ok;
  let logger: Logger | undefined;
  const urlSecrets = argv.slice(2).flatMap(findUrlSecrets);
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const ctx: CliContext = {
    // A password typed into a URL (refused, never used) is masked in everything printed: results, --json, errors.
    out: (text) => process.stdout.write(maskUrlSecrets(text, urlSecrets)),
    err: (text) => process.stderr.write(maskUrlSecrets(text, urlSecrets)),
    isInteractive: Boolean(process.stderr.isTTY),
    signal: controller.signal,
    env: process.env,
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    logger: () => {
      if (!logger) {
        const g = globals();
        const level: LogLevel = g.debug ? 'debug' : g.quiet ? 'warn' : 'info';
        logger = createLogger({ level });
        for (const secret of urlSecrets) logger.redact(secret);
      }
      return logger;
    },
    setExitCode: (code) => {
      // The most serious outcome wins: a later "ok" never hides an earlier failure.
      if (exitCode === ExitCode.ok || code !== ExitCode.ok) exitCode = code;
    },
  };
  const program = await buildProgram(ctx, readVersion(), argv.slice(2));
  /** Prints a failure the way every error is printed: --json on stdout when asked, the message on stderr. */
  const reportFailure = (err: unknown): ExitCodeValue => {
    const g = globals();
    const failure = isMailshiftError(err)
      ? err
      : new MailshiftError('MAILSHIFT_INTERNAL', err instanceof Error ? err.message : String(err), {
          hint: 'this is a bug in mailshift; run again with --debug and report the output',
          cause: err,
        });
    if (g.json) process.stdout.write(maskUrlSecrets(`${JSON.stringify({ ok: false, error: failure.toJSON() }, null, 2)}\n`, urlSecrets));
    process.stderr.write(maskUrlSecrets(formatError(failure, { withStack: Boolean(g.debug) }), urlSecrets));
    return failure.exitCode;
  };
  // The last net: an error that escaped every caller (a stream's 'error' event nobody listened to) would end the
  // process with Node's stack trace and, under --json, nothing on stdout. It is reported like any other failure
  // instead, and the process ends: after such an error nothing it was doing can be trusted to go on.
  const onEscaped = (err: unknown) => {
    const code = reportFailure(err);
    process.stdout.write('', () => process.exit(code === ExitCode.ok ? ExitCode.failed : code));
  };
  process.on('uncaughtException', onEscaped);
  process.on('unhandledRejection', onEscaped);
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return ExitCode.ok;
      return ExitCode.usage;
    }
    return reportFailure(err);
  }
}

/** Our package.json: beside dist/ from the bundle (dist/bin/mailshift.js) or from tsc's output (dist/src/cli/main.js). */
function readVersion(): string {
  for (const relative of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'mailshift' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not there: try the next place
    }
  }
  return '0.0.0';
}

const code = await main(process.argv);
// Let stdout drain before exiting: a --json document piped to another program must arrive whole.
process.stdout.write('', () => process.exit(code));
