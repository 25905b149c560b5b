import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import type { MessagesCopyOptions } from '../../engine/operations/copy.js';
import type { Credentials, FolderRules, OperationBase } from '../../engine/operations/types.js';
import type { Route } from '../../engine/route.js';
import { parseStoreSpec, type ImapSpec } from '../../stores/spec.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { buildFolderRules, checkFileLevelOptions, type ImapCliOptions } from './imap-options.js';
import { buildSshOptionsFromCli, type SshCliOptions } from './ssh-options.js';

/**
 * From a command line to an engine request: what copy, resync, verify and watch share (the two ends, ssh options,
 * where passwords come from, how IMAP is reached). Parsing only; the engine looks at the ends and decides the route.
 */
export function buildOperationBase(ctx: CliContext, cmd: Command, sourceText: string, targetText: string): OperationBase {
  const options = cmd.optsWithGlobals<GlobalOptions & ImapCliOptions & SshCliOptions>();
  const source = parseStoreSpec(sourceText);
  const target = parseStoreSpec(targetText);
  const logger = ctx.logger();
  return {
    source,
    target,
    ssh: buildSshOptionsFromCli(options),
    credentials: buildCredentials(ctx, options, source.kind === 'imap' && target.kind === 'imap'),
    imap: {
      ...(options.caFile ? { caFile: options.caFile } : {}),
      ...(options.insecure ? { isInsecure: true } : {}),
      maxConnections: options.maxConnections,
      ...(options.timeout ? { connectTimeoutMs: Math.min(options.timeout, 60) * 1000 } : {}),
      ...(options.retries !== undefined ? { retries: options.retries } : {}),
      ...(options.retryDelay !== undefined ? { retryBaseMs: options.retryDelay } : {}),
    },
    signal: ctx.signal,
    logger,
    env: ctx.env,
    onRoute: (route: Route) => {
      // IMAP copies cannot honour the file-level options: said once the route is known, before any login.
      if (route.use === 'messages') checkFileLevelOptions(cmd, logger);
      // A dry run shows the decision first: what would run, and why (--json carries it as `route`).
      if (options.dryRun && !options.json) ctx.out(formatRouteLine(route));
    },
  };
}

/** "Route: files (rsync): both ends are file trees (...)": the line a dry run starts with. */
export function formatRouteLine(route: Route): string {
  const engine = { files: 'files (rsync)', messages: 'messages (one at a time through the stores)', archive: 'archive (one pass over the backup)' }[route.use];
  return `Route: ${engine}: ${route.reason}\n`;
}

/**
 * Which folders the messages engine takes (`--map`, `--exclude`, `--virtual-folders`). Built while the request is,
 * so a bad --map or --exclude fails before anything is looked at or logged in to.
 */
export function buildFolderSelection(options: ImapCliOptions): FolderRules {
  return { ...buildFolderRules(options), skipVirtual: !options.virtualFolders };
}

/** The messages engine's options from the folder selection, `--max-size`, `--state-dir`, … */
export function buildMessagesOptions(options: GlobalOptions & ImapCliOptions): MessagesCopyOptions {
  return {
    ...buildFolderSelection(options),
    skipExisting: options.skipExisting,
    ...(options.maxSize !== undefined ? { maxSizeBytes: options.maxSize } : {}),
    ...(options.accountTimeout ? { accountTimeoutMs: options.accountTimeout * 1000 } : {}),
    ...(options.maxBytesPerSecond ? { maxBytesPerSecond: options.maxBytesPerSecond } : {}),
    ...(options.maxBytes ? { maxBytes: options.maxBytes } : {}),
    ...(options.stateDir ? { stateDir: options.stateDir } : {}),
    concurrency: Math.max(1, Math.min(options.jobs ?? 1, options.maxConnections)),
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
    ...(options.retryDelay !== undefined ? { retryBaseMs: options.retryDelay } : {}),
  };
}

/**
 * Passwords from `--password-file`, `--source-password-file`, `--target-password-file` (a file, or "-" for standard
 * input) or the environment; never from argv. Standard input can be read once: a later connection that asks again
 * gets what was read then.
 */
function buildCredentials(ctx: CliContext, options: ImapCliOptions, bothImap: boolean): Credentials {
  let fromStdin: Promise<string> | undefined;
  const readStdinOnce = () => (fromStdin ??= ctx.readStdin());
  return {
    async password(side: 'source' | 'target', spec: ImapSpec): Promise<string> {
      const { readPassword, passwordEnvNames } = await import('../../core/secrets.js');
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
        logger: ctx.logger(),
      });
    },
  };
}
