import { ExitCode, type ExitCodeValue } from '../../core/exit-codes.js';
import type { FlagsMode } from '../tree/resync/plan.js';
import type { StoreCopyReport } from '../messages/copy.js';
import type { ImapWatchSummary } from '../../watch/imap-watch.js';
import type { WatchRun, WatchSummary } from '../../watch/tree-watch.js';
import type { MailshiftError } from '../../core/errors.js';
import { probeRoute } from './probe-route.js';
import { buildStoreCopyOptions, decideFlagsMode, type MessagesCopyOptions } from './copy.js';
import { withSharedSsh } from './ssh.js';
import { openStorePair } from './store-pair.js';
import type { OperationBase, OperationResult } from './types.js';

/**
 * `watch` as one engine call: it runs until the signal aborts (Ctrl-C) or a round fails in a way waiting cannot
 * mend. File trees: the source's new/ and cur/ are watched and each change is resynced with rsync (plus a full
 * resync now and then). An IMAP end: the incremental copy again every poll interval, at once when the server
 * announces new mail in INBOX (IDLE).
 */
export interface WatchRequest extends OperationBase {
  readonly flags: FlagsMode;
  readonly files: {
    readonly dedupe: boolean;
    readonly ioTimeoutS: number;
    readonly bwlimitKiBps?: number;
    readonly debounceMs: number;
    readonly fullEveryMs: number;
    readonly retryBaseMs: number;
  };
  readonly messages: MessagesCopyOptions & { readonly pollMs: number };
  /** Once watching has begun: what is watched, how. */
  readonly onReady?: (description: string) => void;
  readonly onFilesRun?: (run: WatchRun) => void;
  readonly onMessagesRound?: (report: StoreCopyReport) => void;
  readonly onMessagesFailure?: (error: MailshiftError) => void;
}

export type WatchOutcome = OperationResult &
  ({ readonly kind: 'files'; readonly watch: WatchSummary } | { readonly kind: 'messages'; readonly watch: ImapWatchSummary });

export async function runWatchOperation(request: WatchRequest): Promise<WatchOutcome> {
  return withSharedSsh(request.ssh, [request.source, request.target], async (ssh) => {
    const route = await probeRoute('watch', request, ssh);
    if (route.use === 'messages') return watchMessages(request, route);
    const { resolveResyncTree } = await import('../tree/resync/run.js');
    const tree = await resolveResyncTree(request.source, request.target, { ssh });
    // Loaded here, not at start-up: chokidar costs every other command ~0.1 s of module loading.
    const { MaildirWatcher } = await import('../../watch/tree-watch.js');
    const { files } = request;
    const watcher = new MaildirWatcher({
      tree,
      resync: { flags: request.flags, dedupe: files.dedupe, ssh, ioTimeoutS: files.ioTimeoutS, ...(files.bwlimitKiBps !== undefined ? { bwlimitKiBps: files.bwlimitKiBps } : {}) },
      signal: request.signal,
      logger: request.logger,
      debounceMs: files.debounceMs,
      fullEveryMs: files.fullEveryMs,
      retryBaseMs: files.retryBaseMs,
      onReady: () => request.onReady?.(`watching ${tree.sourceLabel} -> ${tree.targetLabel} (Ctrl-C stops)`),
      ...(request.onFilesRun ? { onRun: request.onFilesRun } : {}),
    });
    const watch = await watcher.run();
    const summary = { items: watch.copied, bytes: 0, skipped: watch.pendingAtExit.map((folder) => ({ item: folder, reason: 'not yet copied when the watch stopped: run resync' })), warnings: [] };
    // Watching ends only when asked to: Ctrl-C (or SIGTERM).
    return { kind: 'files', route, exitCode: ExitCode.interrupted, summary, watch };
  });
}

async function watchMessages(request: WatchRequest, route: WatchOutcome['route']): Promise<WatchOutcome> {
  const { runImapWatch } = await import('../../watch/imap-watch.js');
  const { runStoreCopy } = await import('../messages/copy.js');
  const pair = await openStorePair(request, request.source, 'write');
  try {
    const flags = decideFlagsMode(request.flags, pair.target.store.caps);
    const m = request.messages;
    const copyOptions = await buildStoreCopyOptions(request, pair, m, flags);
    const source = pair.source.store;
    const hasIdle = source.caps.newMailSignal;
    request.onReady?.(`watching ${pair.source.label} -> ${pair.target.label}: a resync every ${m.pollMs / 1000} s${hasIdle ? ', and at once when new mail reaches INBOX (IDLE)' : ''} (Ctrl-C stops)`);
    const watch = await runImapWatch({
      intervalMs: m.pollMs,
      signal: request.signal,
      runRound: async (onCopied) => runStoreCopy(pair.source, pair.target, { ...copyOptions, dryRun: false, onProgress: (done) => onCopied(done.messages) }),
      ...(request.onMessagesRound ? { onRound: request.onMessagesRound } : {}),
      ...(request.onMessagesFailure ? { onFailure: request.onMessagesFailure } : {}),
      // New mail mostly lands in INBOX: a server with IDLE says so at once; other folders wait for the poll.
      ...(source.waitForNewMail ? { waitForNewMail: (ms: number, signal: AbortSignal) => source.waitForNewMail!('INBOX', ms, signal) } : {}),
    });
    const exitCode = (watch.stopped ? watch.stopped.exitCode : ExitCode.interrupted) as ExitCodeValue;
    const summary = { items: watch.copied, bytes: 0, skipped: [], warnings: watch.stopped ? [`stopped: ${watch.stopped.reason}`] : [] };
    return { kind: 'messages', route, exitCode, summary, watch };
  } finally {
    await pair.dispose();
  }
}
