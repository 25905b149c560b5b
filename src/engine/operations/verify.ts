import type { VerifyReport } from '../../verify/report.js';
import { probeRoute } from './probe-route.js';
import { withSharedSsh } from './ssh.js';
import { openStorePair } from './store-pair.js';
import type { FolderRules, OperationBase, OperationResult, OperationSummary } from './types.js';

/**
 * `verify` as one engine call: file trees are compared file by file (by maildir base name, over ssh where a side is
 * remote); an IMAP end or an mbox source is read as a store, message by message. Either way the report is the same
 * shape, and OK means every source folder was compared.
 */
export interface VerifyRequest extends OperationBase {
  /** Also count duplicates on the target, flag differences and UIDs not kept as differences. */
  readonly strict: boolean;
  /** Folder selection, for the messages engine. */
  readonly rules: FolderRules;
}

export type VerifyOutcome = OperationResult & { readonly report: VerifyReport };

export async function runVerifyOperation(request: VerifyRequest): Promise<VerifyOutcome> {
  return withSharedSsh(request.ssh, [request.source, request.target], async (ssh) => {
    const route = await probeRoute('verify', request, ssh);
    let report: VerifyReport;
    if (route.use === 'files') {
      const { runVerify } = await import('../../verify/tree.js');
      report = await runVerify(request.source, request.target, { ssh, signal: request.signal, strict: request.strict });
    } else {
      const { runStoreVerify } = await import('../../verify/messages.js');
      const pair = await openStorePair(request, request.source, 'read');
      try {
        report = await runStoreVerify(pair.source, pair.target, { ...request.rules, strict: request.strict, logger: request.logger, signal: request.signal });
      } finally {
        await pair.dispose();
      }
    }
    return { route, exitCode: report.exitCode, summary: summariseVerify(report), report };
  });
}

/** The reason a message verify did not find on the target is given in the summary (campaigns look for it). */
export const missingOnTargetReason = 'missing on the target';

export function summariseVerify(report: VerifyReport): OperationSummary {
  return {
    items: report.totals.sourceMessages,
    bytes: report.totals.sourceBytes,
    skipped: [
      ...report.skippedFolders.filter((f) => !f.isChosen).map((f) => ({ item: f.mailbox ? `${f.mailbox}:${f.directory}` : f.directory, reason: f.reason })),
      ...report.folders.flatMap((f) => f.missing.map((key) => ({ item: `${f.mailbox ? `${f.mailbox}:` : ''}${f.folder} ${key}`, reason: missingOnTargetReason }))),
    ],
    warnings: [],
  };
}
