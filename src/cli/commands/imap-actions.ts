import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { ExitCode, type ExitCodeValue } from '../../core/exit-codes.js';
import type { CopyProgress, StoreCopyOptions, StoreCopyReport, StoreDescription } from '../../engine/messages/copy.js';
import type { FlagsMode } from '../../engine/resync-plan.js';
import type { FlagUpdateMode } from '../../stores/store.js';
import { parseStoreSpec, type ImapSpec, type StoreSpec } from '../../stores/spec.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { formatBytes, formatDuration, formatTable, type ProgressDone } from '../render.js';
import { buildFolderRules, checkFileLevelOptions, formatFallbackLine, type FallbackDecision, type ImapCliOptions } from './imap-options.js';
import type { SshCliOptions } from './ssh-options.js';

/**
 * What copy, resync, verify and watch do when an end is IMAP: open both stores (passwords from files, stdin or the
 * environment, never argv), run the store copy, verify or the polling watch, and report.
 */

// Everything that pulls in imapflow, the engines or verify's reporters is imported when an IMAP action runs, not when
// the CLI starts: copy, resync and verify between file trees must not pay for loading the IMAP client.
const loadEngines = async () => {
  const [secrets, state, storeCopy, storeVerify, open, verifyJson, verifyText, render] = await Promise.all([
    import('../../core/secrets.js'),
    import('../../engine/state.js'),
    import('../../engine/messages/copy.js'),
    import('../../verify/messages.js'),
    import('../../stores/open.js'),
    import('../../verify/reporters/json.js'),
    import('../../verify/reporters/text.js'),
    import('../render.js'),
  ]);
  return { ...secrets, ...state, ...storeCopy, ...storeVerify, ...open, ...verifyJson, ...verifyText, ...render };
};

interface OpenedPair {
  readonly source: StoreDescription;
  readonly target: StoreDescription;
}

async function openPair(ctx: CliContext, cmd: Command, sourceText: string, targetText: string, targetMode: 'read' | 'write', fallback?: FallbackDecision): Promise<OpenedPair> {
  const { readPassword, passwordEnvNames, openStore } = await loadEngines();
  const options = cmd.optsWithGlobals<ImapCliOptions & SshCliOptions>();
  const logger = ctx.logger();
  // With the fallback in use, the IMAP account stands in for the source; its password comes the same ways as any
  // IMAP source's (--password-file, --source-password-file, stdin, MAILSHIFT_SOURCE_PASSWORD), never from argv.
  const sourceSpec: StoreSpec = parseStoreSpec(fallback?.used ? fallback.imap : sourceText);
  const targetSpec = parseStoreSpec(targetText);
  const bothImap = sourceSpec.kind === 'imap' && targetSpec.kind === 'imap';
  // Standard input can be read once: a later connection that asks again gets what was read then.
  let fromStdin: Promise<string> | undefined;
  const readStdinOnce = () => (fromStdin ??= ctx.readStdin());
  const passwordFor = (side: 'source' | 'target') => async (spec: ImapSpec) => {
    const file = (side === 'source' ? options.sourcePasswordFile : options.targetPasswordFile) ?? options.passwordFile;
    if (bothImap && file === '-' && options.sourcePasswordFile === undefined && options.targetPasswordFile === undefined) {
      throw new UsageError('both ends are IMAP: standard input can carry only one password', 'use --source-password-file and --target-password-file, or the environment variables');
    }
    return readPassword({
      label: `the ${side} IMAP account ${spec.user}@${spec.host}`,
      ...(spec.auth === 'oauth2' ? { secretName: 'access token' } : {}),
      ...(file !== undefined ? { passwordFile: file } : {}),
      envNames: passwordEnvNames(side),
      env: ctx.env,
      readStdin: readStdinOnce,
      logger,
    });
  };
  const common = {
    logger,
    ...(options.caFile ? { caFile: options.caFile } : {}),
    ...(options.insecure ? { isInsecure: true } : {}),
    maxConnections: options.maxConnections,
    ...(options.timeout ? { connectTimeoutMs: Math.min(options.timeout, 60) * 1000 } : {}),
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
    ...(options.retryDelay !== undefined ? { retryBaseMs: options.retryDelay } : {}),
    signal: ctx.signal,
  };
  const source = await openStore(sourceSpec, { ...common, mode: 'read', password: passwordFor('source') });
  try {
    const target = await openStore(targetSpec, { ...common, mode: targetMode, ...(options.dryRun ? { allowMissing: true } : {}), password: passwordFor('target') });
    return { source, target };
  } catch (err) {
    await source.store[Symbol.asyncDispose]();
    throw err;
  }
}

/**
 * `resync --flags source|merge`: a maildir target finds what earlier runs copied by the source identity its file
 * names carry, so it can take the source's flags. An IMAP target renumbers what it is given, and mailshift keeps no
 * map of its UIDs: refused there rather than ignored.
 */
function decideFlagsMode(cmd: Command, pair: OpenedPair): FlagUpdateMode | undefined {
  const value = cmd.getOptionValue('flags') as FlagsMode | undefined;
  if (value === undefined || value === 'target') return undefined;
  if (!pair.target.store.caps.flagsBySourceKey) {
    throw new UsageError(
      `--flags ${value} needs a maildir target: flags of messages already on an IMAP target are kept`,
      'run without --flags (the target keeps its flags)',
    );
  }
  return value;
}

/** The store copy's options from the command line, as copy, resync and watch share them. */
async function buildStoreCopyOptions(ctx: CliContext, options: GlobalOptions & ImapCliOptions, pair: OpenedPair, flags: FlagUpdateMode | undefined): Promise<StoreCopyOptions> {
  const { stateFileFor, defaultStateDir } = await loadEngines();
  const rules = buildFolderRules(options);
  const pairKey = `${pair.source.label} -> ${pair.target.label}`;
  return {
    dryRun: Boolean(options.dryRun),
    maps: rules.maps,
    excludes: rules.excludes,
    skipVirtual: !options.virtualFolders,
    skipExisting: options.skipExisting,
    ...(flags ? { flags } : {}),
    ...(options.maxSize !== undefined ? { maxSizeBytes: options.maxSize } : {}),
    concurrency: Math.max(1, Math.min(options.jobs ?? 1, options.maxConnections)),
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
    ...(options.retryDelay !== undefined ? { retryBaseMs: options.retryDelay } : {}),
    state: { file: stateFileFor(options.stateDir ?? defaultStateDir(ctx.env), pairKey), pair: pairKey },
    logger: ctx.logger(),
    signal: ctx.signal,
  };
}

/**
 * `mailshift watch` with an IMAP end: the resync again every `--poll` seconds until Ctrl-C (exit 130, with a
 * summary), over connections kept open between rounds.
 */
export async function runImapWatchAction(ctx: CliContext, cmd: Command, sourceText: string, targetText: string): Promise<void> {
  const options = cmd.optsWithGlobals<GlobalOptions & ImapCliOptions & { poll: number }>();
  const logger = ctx.logger();
  checkFileLevelOptions(cmd, logger);
  const fileWatchOnly = ['fullEvery', 'debounce'].filter((name) => cmd.getOptionValueSource(name) === 'cli');
  if (fileWatchOnly.length > 0) logger.warn(`${fileWatchOnly.map((name) => (name === 'fullEvery' ? '--full-every' : '--debounce')).join(', ')}: for watching maildir files only; an IMAP watch polls every --poll seconds`);
  buildFolderRules(options); // a bad --map or --exclude fails here, before any login
  const { runStoreCopy, formatJson } = await loadEngines();
  const { runImapWatch } = await import('../../watch/imap-watch.js');
  const pair = await openPair(ctx, cmd, sourceText, targetText, 'write');
  try {
    const flags = decideFlagsMode(cmd, pair);
    const copyOptions = await buildStoreCopyOptions(ctx, { ...options, dryRun: false }, pair, flags);
    const hasIdle = pair.source.store.caps.newMailSignal;
    logger.info(`watching ${pair.source.label} -> ${pair.target.label}: a resync every ${options.poll} s${hasIdle ? ', and at once when new mail reaches INBOX (IDLE)' : ''} (Ctrl-C stops)`);
    const summary = await runImapWatch({
      intervalMs: options.poll * 1000,
      signal: ctx.signal,
      runRound: (onCopied) => runStoreCopy(pair.source, pair.target, { ...copyOptions, onProgress: (done) => onCopied(done.messages) }),
      onRound: (report) => {
        const t = report.totals;
        if (t.copied === 0 && t.flagsApplied === 0 && t.skipped === 0 && t.failedFolders === 0 && report.skippedFolders.length === 0 && !report.stopped) return;
        const time = new Date().toISOString().slice(11, 19);
        const problems = report.stopped ? `; stopped: ${report.stopped.reason}` : t.failedFolders > 0 ? `; ${t.failedFolders} folder(s) failed` : '';
        logger.info(`${time} resync: ${t.copied} copied${flags ? `, ${t.flagsApplied} flag change(s) applied` : ''}${t.skipped ? `, ${t.skipped} skipped` : ''}${report.skippedFolders.length ? `, ${report.skippedFolders.length} folder(s) skipped` : ''}${problems}`);
      },
      onFailure: (error) => logger.warn(`resync failed: ${error.message}; trying again in ${options.poll} s`),
      // New mail mostly lands in INBOX: a server with IDLE says so at once; other folders wait for the poll.
      ...(pair.source.store.waitForNewMail ? { waitForNewMail: (ms: number, signal: AbortSignal) => pair.source.store.waitForNewMail!('INBOX', ms, signal) } : {}),
    });
    const text = `stopped: ${summary.runs} run(s), ${summary.copied} copied, ${summary.flagsApplied} flag change(s) applied, ${summary.failedRuns} failed run(s)${summary.stopped ? `; ${summary.stopped.reason}` : ''}\n`;
    ctx.out(options.json ? formatJson({ ok: !summary.stopped, command: 'watch', engine: 'imap', ...summary }) : text);
    // Watching ends only when asked to (Ctrl-C, SIGTERM), or when a round fails in a way waiting cannot mend.
    ctx.setExitCode(summary.stopped ? (summary.stopped.exitCode as ExitCodeValue) : ExitCode.interrupted);
  } finally {
    await pair.target.store[Symbol.asyncDispose]();
    await pair.source.store[Symbol.asyncDispose]();
  }
}

export async function runImapCopyAction(
  ctx: CliContext,
  cmd: Command,
  sourceText: string,
  targetText: string,
  commandName: 'copy' | 'resync',
  fallback?: FallbackDecision,
): Promise<void> {
  const options = cmd.optsWithGlobals<GlobalOptions & ImapCliOptions>();
  const logger = ctx.logger();
  checkFileLevelOptions(cmd, logger);
  buildFolderRules(options); // a bad --map or --exclude fails here, before any login
  const { runStoreCopy, decideCopyExitCode, createProgressBar, formatJson } = await loadEngines();
  const pair = await openPair(ctx, cmd, sourceText, targetText, options.dryRun ? 'read' : 'write', fallback);
  try {
    const flags = decideFlagsMode(cmd, pair);
    if (options.justlogin) {
      const text = describeLogin(pair);
      ctx.out(options.json ? formatJson({ ok: true, command: commandName, justlogin: text.json }) : text.text);
      ctx.setExitCode(ExitCode.ok);
      return;
    }
    const showProgress = ctx.isInteractive && !options.json && !options.dryRun;
    const progress = createProgressBar(ctx.err, { label: commandName === 'copy' ? 'copying' : 'resyncing', isInteractive: showProgress });
    const report = await runStoreCopy(pair.source, pair.target, {
      ...(await buildStoreCopyOptions(ctx, options, pair, flags)),
      ...(options.accountTimeout ? { timeoutMs: options.accountTimeout * 1000 } : {}),
      onProgress: (done) => progress.update(formatCopyProgress(done)),
    });
    progress.finish();
    const exitCode = decideCopyExitCode(report);
    if (options.json) {
      ctx.out(formatJson({ ok: exitCode === ExitCode.ok, command: commandName, engine: 'imap', ...(fallback ? { fallback } : {}), ...report, exitCode }));
    } else {
      ctx.out(formatStoreCopyReport(report, fallback));
    }
    ctx.setExitCode(exitCode as (typeof ExitCode)[keyof typeof ExitCode]);
  } finally {
    await pair.target.store[Symbol.asyncDispose]();
    await pair.source.store[Symbol.asyncDispose]();
  }
}

/** `mailshift verify` with an IMAP end. */
export async function runImapVerifyAction(ctx: CliContext, cmd: Command, sourceText: string, targetText: string): Promise<void> {
  const options = cmd.optsWithGlobals<GlobalOptions & ImapCliOptions>();
  const rules = buildFolderRules(options);
  const { runStoreVerify, formatVerifyJson, formatVerifyText } = await loadEngines();
  const pair = await openPair(ctx, cmd, sourceText, targetText, 'read');
  try {
    const report = await runStoreVerify(pair.source, pair.target, {
      ...rules,
      skipVirtual: !options.virtualFolders,
      strict: Boolean(options.strict),
      logger: ctx.logger(),
      signal: ctx.signal,
    });
    ctx.out(options.json ? formatVerifyJson(report) : formatVerifyText(report, { listLimit: options.list ?? 20 }));
    ctx.setExitCode(report.exitCode);
  } finally {
    await pair.target.store[Symbol.asyncDispose]();
    await pair.source.store[Symbol.asyncDispose]();
  }
}

function describeLogin(pair: OpenedPair): { text: string; json: unknown[] } {
  const lines: string[] = [];
  const json: unknown[] = [];
  for (const [side, opened] of [['source', pair.source], ['target', pair.target]] as const) {
    const facts = opened.store.serverFacts;
    if (facts) {
      const ns = facts.namespace;
      lines.push(`${side}: ${opened.label}: login ok (${facts.credential})`);
      lines.push(`  namespace: prefix "${ns.prefix}", delimiter "${ns.delimiter ?? 'NIL'}"`);
      lines.push(`  capabilities: ${facts.capabilities.join(' ')}`);
      json.push({ side, label: opened.label, login: 'ok', credential: facts.credential, namespace: ns, capabilities: facts.capabilities });
    } else {
      lines.push(`${side}: ${opened.label}: ${opened.store.kind} (no login needed)`);
      json.push({ side, label: opened.label, kind: opened.store.kind });
    }
  }
  return { text: `${lines.join('\n')}\n`, json };
}

export function formatStoreCopyReport(report: StoreCopyReport, fallback?: FallbackDecision): string {
  const verb = report.dryRun ? 'Would copy' : 'Copied';
  const t = report.totals;
  let text = formatFallbackLine(fallback);
  const flagWords = report.flags ? `; flags (--flags ${report.flags}): ${t.flagDifferences} differed, ${report.dryRun ? 'none changed (dry run)' : `${t.flagsApplied} changed on the target`}` : '';
  text += `${verb} ${t.copied} messages (${formatBytes(t.copiedBytes)}) from ${report.source} to ${report.target} in ${formatDuration(report.durationMs)}; ${t.alreadyPresent} already there${flagWords}\n\n`;
  text += formatTable(
    ['SOURCE FOLDER', 'TARGET FOLDER', 'WHY'],
    report.mapping.map((row) => [row.source, row.action === 'copy' ? row.target : '(not copied)', row.reason]),
  );
  if (report.folders.length > 0) {
    text += '\n';
    text += formatTable(
      ['FOLDER', report.dryRun ? 'TO COPY' : 'COPIED', 'ALREADY THERE', 'SKIPPED', 'RUN', 'RESULT'],
      report.folders.map((f) => [f.source, f.copied, f.alreadyPresent, f.skipped.length, f.mode, f.error ? `failed: ${f.error.message}` : f.retries ? `ok after ${f.retries} retries` : 'ok']),
    );
  }
  if (report.skippedFolders.length > 0) {
    text += `\nSkipped folders (${report.skippedFolders.length}):\n${report.skippedFolders.map((each) => `  ${each.folder}: ${each.reason}`).join('\n')}\n`;
  }
  const skipped = report.folders.flatMap((f) => f.skipped.map((s) => `  ${f.source} ${s.uid !== undefined ? `UID ${s.uid}` : s.id}: ${s.reason}`));
  if (skipped.length > 0) text += `\nSkipped messages (${skipped.length}):\n${skipped.slice(0, 50).join('\n')}\n`;
  if (report.stopped) text += `\nStopped: ${report.stopped.reason}\nEverything copied so far is recorded; run the same command again to continue (nothing is copied twice).\n`;
  return text;
}

/**
 * An IMAP copy's progress for the bar: a percentage and an ETA against what the folders listed so far lack (source
 * sizes), and how many folders that covers while the rest are still to be listed.
 */
export function formatCopyProgress(done: CopyProgress): ProgressDone {
  const base = { bytes: done.bytes, items: done.messages };
  if (done.foldersPlanned === 0 || done.plannedBytes === 0) return base;
  return {
    ...base,
    totalItems: done.plannedMessages,
    totalBytes: done.plannedBytes,
    measuredBytes: done.sourceBytes,
    ...(done.foldersPlanned < done.foldersTotal ? { note: `${done.foldersPlanned}/${done.foldersTotal} folders listed` } : {}),
  };
}
